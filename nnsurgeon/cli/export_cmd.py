"""export: one network of MODEL as ONNX, checked against onnxruntime."""
import click

from .common import model_argument


@click.command()
@model_argument
@click.option("-o", "--output", required=True, metavar="OUT.onnx", help="The ONNX file to write.")
@click.option("--network", default=None, metavar="NAME", help="Network to export (instead of --executor).")
@click.option("--executor", default=None, metavar="NAME",
              help="Export the network this executor runs, with its inputs and outputs. Default: the runtime "
                   "executor (the only one, or the one named 'runtime').")
@click.option("--opset", type=click.Choice(["7", "9", "10", "11", "13"]), default="13", show_default=True,
              help="ONNX opset (quantizers need 10, per-channel scales 13).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Batch size of the ONNX inputs. Default: the network's.")
@click.option("--symmetric", is_flag=True,
              help="Quantizers as int8 with zero point 0, scale max(|min|,|max|)/127 (TensorRT's form).")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Run the ONNX file with onnxruntime and the model with NNabla on the same inputs.")
@click.option("--input", "data", default=None, metavar="DATA",
              help="Check with these inputs (.npy, .npz keyed by input name, or a folder). Default: random.")
@click.option("--samples", type=click.IntRange(min=1), default=8, show_default=True,
              help="Random samples for the check.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the random samples.")
@click.option("--atol", type=float, default=None,
              help="Absolute tolerance. Default: 1e-4, plus one quantization step for quantized models.")
@click.option("--rtol", type=float, default=None, help="Relative tolerance. Default: 1e-3.")
@click.option("--keep-failed", is_flag=True, help="Keep OUT.onnx when the check fails (exit 1 all the same).")
@click.option("--context", default="cpu", show_default=True, help="NNabla context for the check (cpu, cudnn).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--force", is_flag=True, help="Replace OUT.onnx if it exists (never the input).")
def export(model, output, network, executor, opset, batch_size, symmetric, check, data, samples, seed, atol, rtol,
           keep_failed, context, fmt, force):
    """Write one network of MODEL as ONNX and check it against onnxruntime.

    Exit 1 when onnxruntime and NNabla disagree beyond the tolerance (nothing is written unless
    --keep-failed).
    """
    from ..api import export as run
    from ..errors import CheckFailed
    from .render import print_json, table

    if network and executor:
        raise click.UsageError("give --network or --executor, not both")
    try:
        report = run(model, output, network=network, executor=executor, opset=int(opset), batch_size=batch_size,
                     check=check, data=data, samples=samples, seed=seed, atol=atol, rtol=rtol, symmetric=symmetric,
                     keep_failed=keep_failed, force=force, context=context)
    except CheckFailed as e:
        if getattr(e, "report", None):
            _render(e.report, fmt, print_json, table)
        raise
    _render(report, fmt, print_json, table)
    click.echo(report["summary"], err=True)


def _render(report, fmt, print_json, table):
    if fmt == "json":
        print_json(report)
        return
    for note in report["notes"]:
        click.echo(f"note: {note}", err=True)
    if report["check"]:
        table(["output", "max_abs", "mean_abs", "cosine", "ok"],
              [[r["name"], f"{r['max_abs']:.3g}", f"{r['mean_abs']:.3g}", f"{r['cosine']:.6f}",
                "yes" if r["ok"] else "NO"] for r in report["check"]["outputs"]])

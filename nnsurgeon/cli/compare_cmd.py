"""compare: run two models on the same inputs."""
import click

from .common import model_argument


@click.command()
@model_argument
@click.argument("other", metavar="MODEL_B")
@click.option("--input", "data", default=None, metavar="DATA", help=".npy/.npz keyed by input name, or a folder.")
@click.option("--random", "random_", is_flag=True, help="Random normal inputs instead of --input.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --random.")
@click.option("--samples", type=click.IntRange(min=1), default=8, show_default=True, help="Samples for --random.")
@click.option("--network", default=None, metavar="NAME", help="Network to run (needed when there are several).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--atol", type=float, default=None, help="Fail (exit 1) when |a-b| > atol + rtol*|a| anywhere.")
@click.option("--rtol", type=float, default=None, help="Relative tolerance (with --atol; default 0).")
@click.option("--per-layer", is_flag=True, help="Also compare every function output present in both by name.")
@click.option("--context", default="cpu", show_default=True, help="NNabla context (cpu, cudnn).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def compare(model, other, data, random_, seed, samples, network, batch_size, atol, rtol, per_layer, context, fmt):
    """Run MODEL and MODEL_B on the same inputs and compare their outputs."""
    from ..api import compare as run
    from ..errors import CheckFailed
    from .render import print_json, table

    if bool(data) == bool(random_):
        raise click.UsageError("give exactly one of --input DATA or --random")
    report = run(model, other, data=data, random=random_, seed=seed, samples=samples, network=network,
                 batch_size=batch_size, atol=atol, rtol=rtol, per_layer=per_layer, context=context)
    if fmt == "json":
        print_json(report)
    else:
        rows = report["outputs"] + report.get("layers", [])
        table(["kind", "name", "max_abs", "mean_abs", "cosine", "top1", "ok"],
              [[r["kind"], r["name"], f"{r['max_abs']:.3g}", f"{r['mean_abs']:.3g}", f"{r['cosine']:.6f}",
                "" if r["top1"] is None else f"{r['top1']:.4f}", "yes" if r["ok"] else "NO"] for r in rows])
        click.echo(report["summary"], err=True)
    if not report["ok"]:
        raise CheckFailed(report["summary"])

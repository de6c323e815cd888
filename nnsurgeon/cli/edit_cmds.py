"""Commands that write a new model: convert, quantize. Each builds a one-step plan."""
import os

import click

from ..rules.selector import split_list
from .common import model_argument, output_options, selector_options
from .render import print_json, table


def emit_option(f):
    return click.option("--emit-recipe", "emit", default=None, metavar="FILE",
                        help="Also write the equivalent recipe (nnsurgeon apply FILE MODEL -o OUT).")(f)


def write_recipe(path, plan, model):
    """Write ``plan`` as a recipe to ``path`` (atomically)."""
    import tempfile

    from ..recipe import plan_to_yaml

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".yaml", dir=folder)
    with os.fdopen(fd, "w") as f:
        f.write(plan_to_yaml(plan, model=model))
    os.replace(tmp, path)


def _default_output(model: str, suffix: str) -> str:
    if model.startswith("nnabla.models:"):
        return model.split("/")[-1] + suffix
    stem, _ = os.path.splitext(model)
    return stem + suffix


@click.command()
@model_argument
@click.option("-o", "--output", required=True, metavar="OUT.nnp", help="The new .nnp.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Set every network's batch size.")
@output_options
@emit_option
def convert(model, output, batch_size, force, network_format, param_format, emit):
    """Rewrite MODEL as OUT.nnp through nnsurgeon's saver.

    With no options this is a lossless round trip keeping the input's storage formats.
    """
    from ..plan import Plan, Step, run_plan

    steps = [Step("set-batch-size", {"batch-size": batch_size})] if batch_size else []
    if emit and not steps:
        raise click.UsageError("--emit-recipe needs a step: convert without --batch-size changes nothing")
    run_plan(model, Plan(steps), output, network_format, param_format, force)
    if emit:
        write_recipe(emit, Plan(steps), model)
    click.echo(f"wrote {output}", err=True)


@click.command()
@model_argument
@click.option("--after", multiple=True, metavar="TYPES", help="Function types to quantize after (ReLU,Affine).")
@selector_options
@click.option("-o", "--output", default=None, metavar="OUT.nnp",
              help="The new .nnp. Default: MODEL.quantized.nnp beside the input.")
@click.option("--bits", type=int, default=8, show_default=True, help="Quantization bits.")
@click.option("--signed", is_flag=True, help="Signed levels [-2^(b-1), 2^(b-1)-1] instead of [0, 2^b-1].")
@click.option("--ql-min", type=float, default=None, help="Lowest quantization level (overrides --bits).")
@click.option("--ql-max", type=float, default=None, help="Highest quantization level (overrides --bits).")
@click.option("--calibrate", "calib", default=None, metavar="DATA",
              help="Calibration data: .npy, .npz keyed by input name, or a folder of them.")
@click.option("--calib-batches", type=click.IntRange(min=1), default=None, help="Use at most this many batches.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Calibration batch size.")
@click.option("--method", type=click.Choice(["minmax", "ema", "percentile"]), default="minmax", show_default=True,
              help="How calibration turns batches into a range.")
@click.option("--context", default="cpu", show_default=True, help="NNabla context for calibration (cpu, cudnn).")
@click.option("--dry-run", is_flag=True, help="Show what would be quantized; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@output_options
@emit_option
def quantize(model, after, networks, names, exclude, allow_empty, output, bits, signed, ql_min, ql_max, calib,
             calib_batches, batch_size, method, context, dry_run, fmt, force, network_format, param_format, emit):
    """Insert MinMaxQuantize after matching functions of MODEL and save a new .nnp."""
    from ..plan import Plan, Step, run_plan

    after = split_list(after)
    if not after and not names:
        raise click.UsageError("say what to quantize: --after TYPES and/or --name GLOB")
    options = {"after": after, "names": split_list(names), "exclude": split_list(exclude),
               "networks": split_list(networks), "bits": bits, "signed": signed, "ql-min": ql_min,
               "ql-max": ql_max, "allow-empty": allow_empty}
    if calib:
        options.update({"calibrate": os.path.abspath(calib), "calib-batches": calib_batches,
                        "batch-size": batch_size, "method": method, "context": context})
    options = {k: v for k, v in options.items() if v is not None and v != [] and v is not False}
    output = output or _default_output(model, ".quantized.nnp")
    plan = Plan([Step("quantize", options)])
    results, _, _ = run_plan(model, plan, output, network_format, param_format, force, dry_run)
    if emit:
        write_recipe(emit, plan, model)
    result = results[0]
    if fmt == "json":
        print_json({"output": None if dry_run else output, "summary": result.summary,
                    "quantizers": result.records, "notes": result.notes})
        return
    table(["network", "after", "type", "output", "consumers", "range"],
          [[r["network"], r["after"], r["type"], r["output"],
            ",".join(r["consumers"]) or "(network output)",
            "dynamic" if r["range"] is None else f"[{r['range'][0]:.4g}, {r['range'][1]:.4g}]"]
           for r in result.records])
    for note in result.notes:
        click.echo(note, err=True)
    click.echo(result.summary + ("" if dry_run else f"; wrote {output}"), err=True)

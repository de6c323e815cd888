"""Commands that write a new model: convert, quantize. Each builds a one-step plan (options declared by the
pass, see :mod:`nnsurgeon.cli.step_options`)."""
import os

import click

from .common import model_argument, output_options
from .render import print_json, table
from .step_options import given_options, step_options


def emit_option(f):
    return click.option("--emit-recipe", "emit", default=None, metavar="FILE.yaml",
                        help="Also write the equivalent recipe (nnsurgeon apply FILE MODEL -o OUT).")(f)


def check_emit(emit, output, inputs, force):
    """Refuse a bad --emit-recipe path before any work is done."""
    if not emit:
        return
    from ..errors import OutputError
    from ..model.output import check_output

    if output and os.path.abspath(emit) == os.path.abspath(output):
        raise OutputError(f"{emit}: is also the model output; give the recipe another name")
    check_output(emit, inputs=inputs, force=force, extensions=(".yaml", ".yml"))


def write_recipe(path, plan, model, inputs, force):
    """Write ``plan`` as a recipe to ``path`` through the one writer; paths in it relative to the recipe."""
    from ..model.output import atomic_file
    from ..recipe import plan_to_yaml

    with atomic_file(path, inputs=inputs, force=force, extensions=(".yaml", ".yml")) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(plan_to_yaml(plan, model=model, recipe_path=path))


def default_output(model: str, suffix: str) -> str:
    if model.startswith("nnabla.models:"):
        return model.split("/")[-1] + suffix
    stem, _ = os.path.splitext(model)
    return stem + suffix


@click.command()
@model_argument
@click.option("-o", "--output", required=True, metavar="OUT.nnp", help="The new .nnp.")
@click.option("--batch-size", type=int, default=None, help="Set every network's batch size.")
@output_options
@emit_option
def convert(model, output, batch_size, force, network_format, param_format, emit):
    """Rewrite MODEL as OUT.nnp through nnsurgeon's saver.

    With no options this is a lossless round trip keeping the input's storage formats.
    """
    from ..plan import Plan, Step, run_plan

    steps = [Step("set-batch-size", {"batch-size": batch_size})] if batch_size is not None else []
    if emit and not steps:
        raise click.UsageError("--emit-recipe needs a step: convert without --batch-size changes nothing")
    plan = Plan(steps, base_dir=os.getcwd())
    check_emit(emit, output, [model] + plan.inputs(), force)
    run_plan(model, plan, output, network_format, param_format, force)
    if emit:
        write_recipe(emit, plan, model, [model, output], force)
    click.echo(f"wrote {output}", err=True)


@click.command()
@model_argument
@step_options("quantize")
@click.option("-o", "--output", default=None, metavar="OUT.nnp",
              help="The new .nnp. Default: MODEL.quantized.nnp beside the input.")
@click.option("--dry-run", is_flag=True, help="Run the step on a copy and show what it would do; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@output_options
@emit_option
def quantize(model, output, dry_run, fmt, force, network_format, param_format, emit, **options):
    """Insert MinMaxQuantize after matching functions of MODEL and save a new .nnp.

    Also: weights (--weights), QuantizeLinear/DequantizeLinear pairs (--quant-format qdq), symmetric ranges,
    mixed precision (--keep), fixed ranges (--range), --preset deploy; see README "Quantizing for deployment".
    """
    from ..plan import Plan, Step, run_plan

    plan = Plan([Step("quantize", given_options("quantize", options))], base_dir=os.getcwd())
    output = output or default_output(model, ".quantized.nnp")
    if emit and dry_run:
        raise click.UsageError("--emit-recipe writes a file; a dry run writes nothing: drop one of them")
    if not dry_run:
        check_emit(emit, output, [model] + plan.inputs(), force)
    results, _, _ = run_plan(model, plan, output, network_format, param_format, force, dry_run)
    if emit and not dry_run:
        write_recipe(emit, plan, model, [model, output] + plan.inputs(), force)
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

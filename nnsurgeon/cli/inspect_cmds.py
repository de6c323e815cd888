"""Read-only commands: list-layers, info, models, example (writes a built-in example model)."""
import click

from ..rules.selector import split_list
from .common import model_argument
from .render import args_text, ports_text, print_csv, print_json, table


@click.command("list-layers")
@model_argument
@click.option("--network", default=None, metavar="NAME", help="Only this network. Default: every network.")
@click.option("--type", "types", multiple=True, metavar="TYPES", help="Only these function types (ReLU,Affine).")
@click.option("--name", "names", multiple=True, metavar="GLOB", help="Only names matching (glob, or re:REGEX).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Batch size for the shapes shown.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def list_layers(model, network, types, names, batch_size, fmt):
    """Every function of MODEL in forward order: name, type, inputs, outputs, arguments, parameters.

    The names shown are the stable names that --name, recipes and extract accept.
    """
    from ..api import list_layers as rows_of

    rows = rows_of(model, network, split_list(types), split_list(names), batch_size)
    if fmt == "json":
        print_json(rows)
        return
    headers = ["network", "index", "name", "type", "inputs", "outputs", "args", "params"]
    cells = [[r["network"], r["index"], r["name"], r["type"], ports_text(r["inputs"]), ports_text(r["outputs"]),
              args_text(r["args"]), r["params"]] for r in rows]
    if fmt == "csv":
        print_csv(headers, cells)
        return
    table(headers, cells)
    click.echo(f"{len(rows)} function(s)", err=True)


@click.command()
@model_argument
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def info(model, fmt):
    """What MODEL holds: files, networks, executors, optimizers, monitors, datasets, parameters, types."""
    from ..api import info as summary_of

    s = summary_of(model)
    if fmt == "json":
        print_json(s)
        return
    click.echo(f"file: {s['file']}\nnnp version: {s['nnp_version']}")
    click.echo("\nmembers:")
    table(["name", "bytes"], [[m["name"], m["bytes"]] for m in s["members"]])
    click.echo("\nnetworks:")
    table(["name", "batch", "functions", "inputs", "outputs"],
          [[n["name"], n["batch_size"], n["functions"], ports_text(n["inputs"]), ports_text(n["outputs"])]
           for n in s["networks"]])
    for key, cols in (("executors", ["name", "network", "data", "outputs"]),
                      ("optimizers", ["name", "network", "solver", "datasets"]),
                      ("monitors", ["name", "network", "datasets"]),
                      ("datasets", ["name", "uri", "batch_size"])):
        if s[key]:
            click.echo(f"\n{key}:")
            table(cols, [[",".join(x[c]) if isinstance(x[c], list) else x[c] for c in cols] for x in s[key]])
    p = s["parameters"]
    click.echo(f"\nparameters: {p['tensors']} tensors, {p['count']} values, {p['bytes']} bytes")
    click.echo("function types: " + ", ".join(f"{t} {n}" for t, n in s["function_types"].items()))


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def models(fmt):
    """Pretrained models of nnabla.models, usable as MODEL (nnabla.models:CATEGORY/NAME), and their cache."""
    import os

    from ..model.pretrained import PREFIX, REGISTRY, cache_path

    rows = []
    for name, entry in REGISTRY.items():
        path = cache_path(name)
        rows.append({"name": PREFIX + name, "description": entry.description, "cached": os.path.isfile(path),
                     "path": path})
    if fmt == "json":
        print_json(rows)
        return
    table(["name", "cached", "description"], [[r["name"], "yes" if r["cached"] else "no", r["description"]]
                                              for r in rows])
    click.echo("Files are cached under NNabla's data home (~/nnabla_data/nnp_models); set "
               "NNABLA_MODELS_URL_BASE to download from a mirror.", err=True)


@click.command()
@click.argument("name", type=click.Choice(["chain", "residual", "multi-output", "multi-network", "zoo",
                                          "classifier"]))
@click.option("-o", "--output", required=True, metavar="OUT.nnp", help="Where to write the example.")
@click.option("--batch-size", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def example(name, output, batch_size, force):
    """Write a built-in example model (built and saved by NNabla itself) to try the other commands on."""
    from ..examples import build_example
    from ..model.output import atomic_file

    with atomic_file(output, force=force, extensions=(".nnp",)) as tmp:
        build_example(name, tmp, batch=batch_size)
    click.echo(f"wrote example '{name}' to {output}", err=True)

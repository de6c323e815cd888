"""Read-only commands: list-layers, info, models, example (writes a built-in example model)."""
import click

from ..rules.selector import split_list
from .common import model_argument, names_of, network_option, select_options, wide_option
from .render import args_text, ports_text, print_csv, print_json, table

SHOW = ("args", "params", "shapes")


def _show(text):
    items = split_list([text]) if text is not None else list(SHOW)
    bad = [x for x in items if x not in SHOW]
    if bad:
        raise click.BadParameter(f"'{bad[0]}': choose from {','.join(SHOW)}", param_hint="--show")
    return items


@click.command("list-layers")
@model_argument
@network_option(multiple=True)
@select_options
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Batch size for the shapes shown.")
@click.option("--format", "fmt", type=click.Choice(["table", "vertical", "json", "csv"]), default="table",
              show_default=True, help="vertical: one block per function.")
@click.option("--show", default=None, metavar="args,params,shapes",
              help="Optional columns to show (comma-separated).  [default: args,params,shapes]")
@wide_option
def list_layers(model, networks, types, names, old_layers, exclude, batch_size, fmt, show, wide):
    """Every function of MODEL in forward order: name, type, inputs, outputs, arguments, parameters.

    The names shown are the stable names that --name, recipes and extract accept. Tables fit the terminal
    (COLUMNS) with long cells shortened in the middle; --wide prints them whole.
    """
    from ..api import list_layers as rows_of

    shown = _show(show)
    if exclude:
        from ..api import load
        from ..rules.selector import unmatched_excludes

        m = load(model)
        scope = split_list(networks) or m.network_names
        for warning in unmatched_excludes([f for n in scope for f in m.network(n).function], split_list(exclude)):
            click.echo(f"warning: {warning}", err=True)
        model = m
    rows = rows_of(model, split_list(networks) or None, split_list(types), names_of(names, old_layers),
                   batch_size, exclude=split_list(exclude))
    if fmt == "json":
        print_json(rows)
        return

    def ports(ps):
        return ports_text(ps) if "shapes" in shown else " ".join(p["name"] for p in ps)

    if fmt == "vertical":
        click.echo(vertical(rows, shown, ports))
        click.echo(f"{len(rows)} function(s)", err=True)
        return
    headers = ["network", "index", "name", "type", "inputs", "outputs"] + [c for c in ("args", "params")
                                                                           if c in shown]
    cells = [[r["network"], r["index"], r["name"], r["type"], ports(r["inputs"]), ports(r["outputs"])]
             + ([args_text(r["args"])] if "args" in shown else []) + ([r["params"]] if "params" in shown else [])
             for r in rows]
    if fmt == "csv":
        print_csv(headers, cells)
        return
    cut = table(headers, cells, wide=wide, shrink=[["args"], ["inputs", "outputs"]])
    click.echo(f"{len(rows)} function(s)" + ("; long cells shortened to fit the terminal (--wide prints them "
                                             "whole; --format vertical or --show args,shapes,params narrows)"
                                             if cut else ""), err=True)


def vertical(rows, shown, ports) -> str:
    """One block per function, like ``polygraphy inspect model``: a title line, then one line per field."""
    blocks = []
    for r in rows:
        lines = [f"[{r['network']} {r['index']}] {r['name']} ({r['type']})",
                 f"    inputs:  {ports(r['inputs']) or '-'}",
                 f"    outputs: {ports(r['outputs']) or '-'}"]
        if "args" in shown:
            lines.append(f"    args:    {args_text(r['args']) or '-'}")
        if "params" in shown:
            lines.append(f"    params:  {r['params']}" + (f" ({ports(r['parameters'])})" if r["parameters"] else ""))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


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
    click.echo(f"function types (counted over network(s) {', '.join(n['name'] for n in s['networks'])}): "
               + ", ".join(f"{t} {n}" for t, n in s["function_types"].items()))


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

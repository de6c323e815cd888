"""report and draw: the model as one self-contained HTML page (or the graph alone as .html, .svg or .dot)."""
import click

from .common import model_argument


@click.command()
@model_argument
@click.option("--against", default=None, metavar="ORIGINAL",
              help="The model MODEL was made from: adds the diff and (with data) per-layer error colours.")
@click.option("--input", "data", default=None, metavar="DATA", help=".npy/.npz keyed by input name, or a folder.")
@click.option("--random", "random_", is_flag=True, help="Random normal inputs instead of --input.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --random.")
@click.option("--samples", type=click.IntRange(min=1), default=8, show_default=True, help="Samples for --random.")
@click.option("--labels", default=None, metavar="L", help="Class indices per sample (.npy or text): adds accuracy.")
@click.option("--metric", type=click.Choice(["cosine", "sqnr"]), default="cosine", show_default=True,
              help="Per-layer error colours: 1 - cosine or SQNR (both as compare --per-layer computes them).")
@click.option("--network", default=None, metavar="NAME", help="Network to show (needed when there are several).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--context", default="cpu", show_default=True, help="NNabla context (cpu, cudnn).")
@click.option("-o", "--output", required=True, metavar="REPORT.html", help="The page to write.")
@click.option("--force", is_flag=True, help="Replace REPORT.html if it exists.")
def report(model, against, data, random_, seed, samples, labels, metric, network, batch_size, context, output,
           force):
    """Write one offline HTML page about MODEL: graph, quantizers, diff and per-layer error, summary."""
    from ..api import load
    from ..model.output import atomic_file, check_output
    from ..report.report import build_report, render

    if data and random_:
        raise click.UsageError("give --input DATA or --random, not both")
    reads = [model, against, data, labels]
    check_output(output, inputs=reads, force=force, extensions=(".html",))
    m = load(model)
    original = load(against) if against else None
    result = build_report(m, original, data=data, random=random_, seed=seed, samples=samples, network=network,
                          labels=labels, batch_size=batch_size, metric=metric, context=context)
    with atomic_file(output, inputs=reads, force=force, extensions=(".html",)) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(render(result))
    click.echo(f"{result['summary']}; wrote {output}", err=True)


@click.command()
@model_argument
@click.option("--network", default=None, metavar="NAME", help="Network to draw (needed when there are several).")
@click.option("--format", "fmt", type=click.Choice(["html", "svg", "dot"]), default=None,
              help="Default: from the output's extension. svg needs Graphviz's dot on PATH.")
@click.option("-o", "--output", required=True, metavar="GRAPH.html|.svg|.dot")
@click.option("--force", is_flag=True, help="Replace the output if it exists.")
def draw(model, network, fmt, output, force):
    """Draw MODEL's graph alone: functions top to bottom, quantizers as badges on their edges."""
    import os

    from ..api import load
    from ..errors import OutputError
    from ..graph.network import Network
    from ..model.output import atomic_file, check_output
    from ..report.graph_page import COLLAPSE_ABOVE, graph_data, page, svg_with_dot, to_dot, views_of

    ext = os.path.splitext(output)[1].lower().lstrip(".")
    fmt = fmt or ext
    if fmt not in ("html", "svg", "dot"):
        raise OutputError(f"{output}: cannot tell the format; name it .html, .svg or .dot, or add --format")
    check_output(output, inputs=[model], force=force, extensions=(f".{fmt}",))
    m = load(model)
    net = Network(m.network(network), m.source)
    data = graph_data(m, net)
    if fmt == "html":
        payload = {"title": os.path.basename(m.source), "network": net.name, "graph": data,
                   "collapse_above": COLLAPSE_ABOVE,
                   "summary": {"models": [{"role": "model", "file": m.source, "networks": m.network_names,
                                           "functions": len(net.functions), "parameters": m.parameter_count()}],
                               "nodes": len(data["nodes"]), "badges": len(data["badges"]),
                               "functions": len(net.functions), "quantizers": {}, "types": {}, "notes": []}}
        content = page(f"nnsurgeon graph: {payload['title']}", payload, views_of(data)).encode()
    elif fmt == "dot":
        content = to_dot(data).encode()
    else:
        content = svg_with_dot(to_dot(data))
    with atomic_file(output, inputs=[model], force=force, extensions=(f".{fmt}",)) as tmp:
        with open(tmp, "wb") as f:
            f.write(content)
    click.echo(f"drew {len(data['nodes'])} function(s) and {len(data['badges'])} quantizer(s) of network "
               f"'{net.name}' to {output}", err=True)

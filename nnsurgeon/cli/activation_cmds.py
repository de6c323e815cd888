"""extract and featuremaps: intermediate activations as arrays and pictures."""
import click

from ..rules.selector import split_list
from .common import (
    data_options,
    flush,
    model_argument,
    names_of,
    network_option,
    open_data,
    pop_data,
    say,
    say_network,
    select_options,
)


def _prepare(model, network, d, names, types, exclude, context):
    """(model, network, source, layers): the network (default: the first executor's, said on stderr), the layers
    chosen, and the data they need (inputs no chosen layer needs, such as labels, are not demanded)."""
    from ..api import load
    from ..runtime.data import parse_input_shapes, with_input_shapes
    from ..runtime.extract import layer_runner, resolve_layers
    from ..runtime.networks import data_network

    m = load(model)
    net, note = data_network(m, network)
    say_network(note)
    m = with_input_shapes(m, net, parse_input_shapes(d["input_shapes"]))
    chosen = resolve_layers(m, net, names, split_list(types), split_list(exclude))
    from ..rules.selector import unmatched_excludes

    for warning in unmatched_excludes(list(m.network(net).function), split_list(exclude)):
        say(f"warning: {warning}")
    shapes = layer_runner(m, net, chosen, context).input_shapes
    return m, net, open_data(m, net, shapes, d), chosen


@click.command()
@model_argument
@data_options
@network_option(multiple=False)
@select_options
@click.option("-o", "--output", required=True, metavar="OUT.npz|DIR/",
              help="An .npz (small results) or a folder: one .npy per layer, written as the samples go.")
@click.option("--reduce", type=click.Choice(["mean", "max", "absmax", "hist"]), default=None,
              help="Per channel instead of whole activations: mean/max/absmax per sample, or a histogram (.npz).")
@click.option("--max-bytes", default="4G", show_default=True, metavar="SIZE",
              help="Refuse to start when the estimated output is larger (4G, 500M, ...).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--context", default="cpu", show_default=True, help="NNabla context (cpu, cudnn).")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def extract(model, network, names, old_layers, types, exclude, output, reduce, max_bytes, batch_size, context,
            force, **kwargs):
    """Write the outputs of MODEL's functions for every input sample, keyed by stable name."""
    from ..errors import OutputError
    from ..model.output import check_output
    from ..runtime.extract import (
        estimate_bytes,
        extract_to,
        human_bytes,
        layer_shapes,
        output_kind,
        parse_bytes,
    )

    d = pop_data(kwargs)
    kind = output_kind(output)
    if reduce == "hist" and kind != "npz":
        raise click.UsageError("--reduce hist writes an .npz: give -o OUT.npz")
    limit = parse_bytes(max_bytes)
    check_output(output, inputs=[model, d["data"]], force=force, folder=kind == "folder")
    m, net, source, chosen = _prepare(model, network, d, names_of(names, old_layers), types, exclude, context)
    size = estimate_bytes(layer_shapes(m, net, chosen), source.count, reduce)
    say(f"extract: {len(chosen)} layer(s) x {source.count} sample(s): about {human_bytes(size)} to write")
    if size > limit:
        raise OutputError(f"{output}: would be about {human_bytes(size)}, over --max-bytes {max_bytes}; choose "
                          "fewer layers (--name, --type), fewer samples, --reduce mean, or raise --max-bytes")
    n = extract_to(m, net, chosen, source, output, batch_size, context, force, inputs=[d["data"]], reduce=reduce)
    flush()
    click.echo(f"extracted {len(chosen)} layer(s) for {n} sample(s) of network '{net}' to {output}", err=True)


@click.command()
@model_argument
@data_options
@network_option(multiple=False)
@select_options
@click.option("--max-channels", type=click.IntRange(min=1), default=64, show_default=True,
              help="Tiles per picture (first channels).")
@click.option("--sample", type=click.IntRange(min=0), default=0, show_default=True, help="Which input sample to draw.")
@click.option("-o", "--output", required=True, metavar="DIR", help="Folder for the PNGs and index.html.")
@click.option("--context", default="cpu", show_default=True, help="NNabla context (cpu, cudnn).")
@click.option("--force", is_flag=True, help="Replace DIR if it exists.")
def featuremaps(model, network, names, old_layers, types, exclude, max_channels, sample, output, context, force,
                **kwargs):
    """Draw MODEL's activations for one input: a tile grid per 4-D output, strips for 2-D, and index.html."""
    from ..errors import DataError
    from ..model.output import atomic_folder, check_output
    from ..runtime.extract import run_layers
    from ..runtime.featuremaps import write_featuremaps

    d = pop_data(kwargs)
    data = d["data"]
    check_output(output, inputs=[model, data], force=force, folder=True)
    m, net, source, chosen = _prepare(model, network, d, names_of(names, old_layers), types, exclude, context)
    if sample >= source.count:
        raise DataError(f"--sample {sample}: the input has {source.count} sample(s)")
    batch = None
    for i, b in enumerate(source.batches(1)):
        if i == sample:
            batch = b
            break
    values = next(run_layers(m, net, chosen, [batch], context))
    with atomic_folder(output, inputs=[model, data], force=force) as tmp:
        drawn = write_featuremaps(values, tmp, 0, max_channels)
    output = output.rstrip("/\\") or output
    flush()
    pictures = sum(1 for d in drawn if d["file"])
    click.echo(f"drew {pictures} layer(s) of network '{net}' into {output} (open {output}/index.html)", err=True)

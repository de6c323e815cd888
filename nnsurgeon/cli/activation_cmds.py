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
@click.argument("model", metavar="[MODEL]", required=False)
@data_options
@network_option(multiple=False)
@select_options
@click.option("--from-npz", "npz", default=None, metavar="ACTIVATIONS.npz",
              help="Draw these (N, ...) arrays, keyed by layer (from extract, or numpy.savez elsewhere), "
                   "instead of running MODEL.")
@click.option("--max-channels", type=click.IntRange(min=1), default=64, show_default=True,
              help="Tiles per picture: the first channels; for 1-D outputs the top-k values.")
@click.option("--normalize", "norm", type=click.Choice(["channel", "layer"]), default="channel",
              show_default=True, help="Colour range per channel (structure) or per layer (dead channels show); "
                                      "index.html switches between both.")
@click.option("--sample", type=click.IntRange(min=0), default=0, show_default=True,
              help="First input sample to draw (--samples N draws N from here).")
@click.option("-o", "--output", required=True, metavar="DIR", help="Folder for the PNGs and index.html.")
@click.option("--context", default="cpu", show_default=True, help="NNabla context (cpu, cudnn).")
@click.option("--force", is_flag=True, help="Replace DIR if it exists.")
def featuremaps(model, network, names, old_layers, types, exclude, npz, max_channels, norm, sample, output,
                context, force, **kwargs):
    """Draw activations: the input first, then a tile grid per layer for --samples N samples, and index.html."""
    from ..model.output import atomic_folder, check_output
    from ..report.featuremaps import load_npz, write_featuremaps
    from ..report.samples import model_samples, npz_samples

    d = pop_data(kwargs)
    data, samples = d["data"], d["samples"] or 1
    if bool(npz) == bool(model):
        raise click.UsageError("give MODEL (with --input DATA or --random) or --from-npz ACTIVATIONS.npz")
    check_output(output, inputs=[model, data, npz], force=force, folder=True)
    if npz:
        arrays, available = load_npz(npz)
        drawn_samples, inputs = npz_samples(arrays, available, sample, samples, npz), []
        title, reads = {"activations": npz}, [npz]
    else:
        m, net, source, chosen = _prepare(model, network, d, names_of(names, old_layers), types, exclude, context)
        drawn_samples, inputs = model_samples(m, net, chosen, source, sample, samples, context)
        title, reads = {"model": model, "network": net}, [model, data]
    with atomic_folder(output, inputs=reads, force=force) as tmp:
        drawn = write_featuremaps(tmp, drawn_samples, inputs, max_channels, norm, title)
    flush()
    pictures = sum(1 for d in drawn if any(d["files"].values()))
    click.echo(f"drew {pictures} layer(s) x {len(drawn_samples)} sample(s) into {output} "
               f"(open {output.rstrip('/')}/index.html)", err=True)

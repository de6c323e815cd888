"""extract and featuremaps: intermediate activations as arrays and pictures."""
import click

from ..rules.selector import split_list
from .common import model_argument


def _floats(text):
    return [float(x) for x in split_list([text])] if text else []


def input_options(f):
    f = click.option("--std", default=None, metavar="S[,S,S]", help="Images: divide by this, per channel.")(f)
    f = click.option("--mean", default=None, metavar="M[,M,M]", help="Images: subtract this, per channel.")(f)
    f = click.option("--scale", type=float, default=1.0, show_default=True,
                     help="Images: multiply pixel values (0-255) by this first, e.g. 0.00392 for 0-1.")(f)
    f = click.option("--size", default=None, metavar="HxW", help="Images: resize to this first.")(f)
    f = click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Samples for --random.")(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="Seed for --random.")(f)
    f = click.option("--random", "random_", is_flag=True, help="Random normal inputs instead of --input.")(f)
    f = click.option("--input", "data", default=None, metavar="DATA",
                     help=".npy, .npz keyed by input name, an image, or a folder of them.")(f)
    return f


def layer_options(f):
    f = click.option("--exclude", multiple=True, metavar="NAMES|TYPES", help="Leave these out.")(f)
    f = click.option("--type", "types", multiple=True, metavar="TYPES", help="Only functions of these types.")(f)
    f = click.option("--layers", multiple=True, metavar="NAMES",
                     help="Stable names or globs (re:REGEX) as list-layers shows them. Default: every function.")(f)
    f = click.option("--network", default=None, metavar="NAME", help="Network to run (when there are several).")(f)
    return f


def _prepare(model, network, data, random_, seed, samples, size, scale, mean, std, layers, types, exclude, context):
    from ..api import load
    from ..runtime.data import open_source
    from ..runtime.extract import resolve_layers
    from ..runtime.images import parse_size
    from ..runtime.runner import Runner

    if bool(data) == bool(random_):
        raise click.UsageError("give exactly one of --input DATA or --random")
    m = load(model)
    net = m.network(network).name
    shapes = Runner(m, net, context=context).input_shapes
    source = open_source(data, shapes, random_, seed, samples, parse_size(size), scale, _floats(mean), _floats(std))
    chosen = resolve_layers(m, net, split_list(layers), split_list(types), split_list(exclude))
    return m, net, source, chosen


@click.command()
@model_argument
@input_options
@layer_options
@click.option("-o", "--output", required=True, metavar="OUT.npz|DIR/",
              help="An .npz (small results) or a folder: one .npy per layer, written as the samples go.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--context", default="cpu", show_default=True, help="NNabla context (cpu, cudnn).")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def extract(model, data, random_, seed, samples, size, scale, mean, std, network, layers, types, exclude, output,
            batch_size, context, force):
    """Write the outputs of MODEL's functions for every input sample, keyed by stable name."""
    from ..model.output import check_output
    from ..runtime.extract import extract_to, output_kind

    kind = output_kind(output)
    check_output(output, inputs=[model, data], force=force, folder=kind == "folder")
    m, net, source, chosen = _prepare(model, network, data, random_, seed, samples, size, scale, mean, std, layers,
                                      types, exclude, context)
    n = extract_to(m, net, chosen, source, output, batch_size, context, force, inputs=[data])
    click.echo(f"extracted {len(chosen)} layer(s) for {n} sample(s) of network '{net}' to {output}", err=True)


@click.command()
@click.argument("model", metavar="[MODEL]", required=False)
@input_options
@layer_options
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
def featuremaps(model, data, random_, seed, samples, size, scale, mean, std, network, layers, types, exclude,
                npz, max_channels, norm, sample, output, context, force):
    """Draw activations: the input first, then a tile grid per layer for --samples N samples, and index.html."""
    from ..model.output import atomic_folder, check_output
    from ..report.featuremaps import load_npz, write_featuremaps
    from ..report.samples import model_samples, npz_samples

    if bool(npz) == bool(model):
        raise click.UsageError("give MODEL (with --input DATA or --random) or --from-npz ACTIVATIONS.npz")
    check_output(output, inputs=[model, data, npz], force=force, folder=True)
    if npz:
        arrays, available = load_npz(npz)
        drawn_samples, inputs = npz_samples(arrays, available, sample, samples, npz), []
        title, reads = {"activations": npz}, [npz]
    else:
        m, net, source, chosen = _prepare(model, network, data, random_, seed, samples, size, scale, mean, std,
                                          layers, types, exclude, context)
        drawn_samples, inputs = model_samples(m, net, chosen, source, sample, samples, context)
        title, reads = {"model": model, "network": net}, [model, data]
    with atomic_folder(output, inputs=reads, force=force) as tmp:
        drawn = write_featuremaps(tmp, drawn_samples, inputs, max_channels, norm, title)
    pictures = sum(1 for d in drawn if any(d["files"].values()))
    click.echo(f"drew {pictures} layer(s) x {len(drawn_samples)} sample(s) into {output} "
               f"(open {output.rstrip('/')}/index.html)", err=True)

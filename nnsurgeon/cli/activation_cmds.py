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
@model_argument
@input_options
@layer_options
@click.option("--max-channels", type=click.IntRange(min=1), default=64, show_default=True,
              help="Tiles per picture (first channels).")
@click.option("--sample", type=click.IntRange(min=0), default=0, show_default=True, help="Which input sample to draw.")
@click.option("-o", "--output", required=True, metavar="DIR", help="Folder for the PNGs and index.html.")
@click.option("--context", default="cpu", show_default=True, help="NNabla context (cpu, cudnn).")
@click.option("--force", is_flag=True, help="Replace DIR if it exists.")
def featuremaps(model, data, random_, seed, samples, size, scale, mean, std, network, layers, types, exclude,
                max_channels, sample, output, context, force):
    """Draw MODEL's activations for one input: a tile grid per 4-D output, strips for 2-D, and index.html."""
    from ..errors import DataError
    from ..model.output import atomic_folder, check_output
    from ..runtime.extract import run_layers
    from ..runtime.featuremaps import write_featuremaps

    check_output(output, inputs=[model, data], force=force, folder=True)
    m, net, source, chosen = _prepare(model, network, data, random_, seed, samples, size, scale, mean, std, layers,
                                      types, exclude, context)
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
    pictures = sum(1 for d in drawn if d["file"])
    click.echo(f"drew {pictures} layer(s) of network '{net}' into {output} (open {output}/index.html)", err=True)

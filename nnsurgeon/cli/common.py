"""Options shared by several commands: one spelling per idea (``--type``, ``--name``, ``--exclude``,
``--network``, the data options), so every command takes the same flags for the same things. A test checks the
click objects of every documented command for it."""
from typing import List, Optional

import click

FORMATS = click.Choice(["table", "json"])


def model_argument(f):
    return click.argument("model", metavar="MODEL")(f)


def network_option(multiple: bool = True, help: Optional[str] = None):
    """``--network``: repeatable where several networks make sense (dest ``networks``), else one (``network``)."""
    def decorate(f):
        if multiple:
            return click.option("--network", "networks", multiple=True, metavar="NAME",
                                help=help or "Only this network (repeat or comma-separate for several). "
                                             "Default: every network.")(f)
        return click.option("--network", "network", default=None, metavar="NAME",
                            help=help or "Network to run. Default: the one the file's first executor runs.")(f)
    return decorate


def output_options(f):
    f = click.option("--force", is_flag=True, help="Replace OUT if it exists (never the input).")(f)
    f = click.option("--network-format", type=click.Choice(["nntxt", "protobuf"]), default=None,
                     help="Network definition format. Default: as in the input.")(f)
    f = click.option("--param-format", type=click.Choice(["h5", "protobuf"]), default=None,
                     help="Parameter format. Default: as in the input.")(f)
    return f


def select_options(f):
    """``--type``, ``--name`` (old spelling ``--layers`` hidden, for one release), ``--exclude``."""
    f = click.option("--exclude", multiple=True, metavar="NAMES|TYPES",
                     help="Leave out these names (glob, re:REGEX) or types; exclusion wins.")(f)
    f = click.option("--layers", "old_layers", multiple=True, hidden=True,
                     help="Old spelling of --name (kept for one release).")(f)
    f = click.option("--name", "names", multiple=True, metavar="GLOB",
                     help="Stable names (glob, or re:REGEX) as list-layers shows them, or variable names.")(f)
    f = click.option("--type", "types", multiple=True, metavar="TYPES", help="Only functions of these types.")(f)
    return f


def names_of(names, old_layers) -> List[str]:
    from ..rules.selector import split_list

    return split_list(tuple(names) + tuple(old_layers))


def wide_option(f):
    return click.option("--wide", is_flag=True, help="Print every cell whole (default: fit the terminal).")(f)


def data_options(f):
    """The one set of data options of every command that feeds data (read by :func:`open_data`)."""
    f = click.option("--input-shapes", "input_shapes", multiple=True, metavar="NAME:1x3x224x224",
                     help="Override a network input's shape (batch first).")(f)
    f = click.option("--val-range", "val_range", multiple=True, metavar="[INPUT:]LO,HI",
                     help="--random: uniform values in [LO, HI] (per input with INPUT:) instead of normal.")(f)
    f = click.option("--std", default=None, metavar="S[,S,S]", help="Images: divide by this, per channel.")(f)
    f = click.option("--mean", default=None, metavar="M[,M,M]", help="Images: subtract this, per channel.")(f)
    f = click.option("--scale", type=float, default=1.0, show_default=True,
                     help="Images: multiply pixel values (0-255) by this first, e.g. 0.00392 for 0-1.")(f)
    f = click.option("--size", default=None, metavar="HxW", help="Images: resize to this first.")(f)
    f = click.option("--samples", type=click.IntRange(min=1), default=None,
                     help="Samples for --random.  [default: 8 for compare, 1 otherwise]")(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="Seed for --random.")(f)
    f = click.option("--random", "random_", is_flag=True, help="Random inputs instead of --input.")(f)
    f = click.option("--input", "data", default=None, metavar="DATA",
                     help=".npy, .npz keyed by input name, an image, or a folder of them.")(f)
    return f


DATA_KEYS = ("data", "random_", "seed", "samples", "size", "scale", "mean", "std", "val_range", "input_shapes")


def pop_data(kwargs) -> dict:
    return {k: kwargs.pop(k) for k in DATA_KEYS}


def floats(text) -> List[float]:
    from ..rules.selector import split_list

    try:
        return [float(x) for x in split_list([text])] if text else []
    except ValueError:
        raise click.BadParameter(f"'{text}': give numbers separated by commas") from None


def open_data(model, network: str, shapes, d: dict, default_samples: int = 1, required: bool = True):
    """The data source for the data options ``d`` (see :func:`data_options`) and a network taking ``shapes``;
    its notes are said on stderr."""
    from ..runtime.data import in_network, open_source, parse_val_range
    from ..runtime.images import parse_size

    if required and bool(d["data"]) == bool(d["random_"]):
        raise click.UsageError("give exactly one of --input DATA or --random")
    source = in_network(network, lambda: open_source(
        d["data"], shapes, d["random_"], d["seed"], d["samples"] or default_samples, parse_size(d["size"]),
        d["scale"], floats(d["mean"]), floats(d["std"]), parse_val_range(d["val_range"])))
    for note in getattr(source, "notes", []):
        say(f"note: {note}")
    return source


def say_network(note: Optional[str]) -> None:
    if note:
        say(f"note: {note}")


def say(text: str) -> None:
    """A line for stderr said before the work on a terminal; otherwise kept until the command succeeds
    (:func:`flush`), so that a failing command prints its one ``Error:`` line alone."""
    import sys

    ctx = click.get_current_context(silent=True)
    if sys.stderr.isatty() or ctx is None or not isinstance(ctx.obj, dict):
        click.echo(text, err=True)
    else:
        ctx.obj.setdefault("later", []).append(text)


def flush() -> None:
    """Print the lines :func:`say` kept (call before a command's final line; the CLI also calls it at the end)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.obj, dict):
        for text in ctx.obj.pop("later", []):
            click.echo(text, err=True)

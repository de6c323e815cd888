"""Options shared by several commands."""
import click

FORMATS = click.Choice(["table", "json"])


def model_argument(f):
    return click.argument("model", metavar="MODEL")(f)


def network_option(f):
    return click.option("--network", "networks", multiple=True, metavar="NAME",
                        help="Only this network (repeat or comma-separate for several). Default: every network.")(f)


def output_options(f):
    f = click.option("--force", is_flag=True, help="Replace OUT if it exists (never the input).")(f)
    f = click.option("--network-format", type=click.Choice(["nntxt", "protobuf"]), default=None,
                     help="Network definition format. Default: as in the input.")(f)
    f = click.option("--param-format", type=click.Choice(["h5", "protobuf"]), default=None,
                     help="Parameter format. Default: as in the input.")(f)
    return f


def selector_options(f):
    f = click.option("--exclude", multiple=True, metavar="NAMES|TYPES",
                     help="Skip functions by name glob or type (exclusion wins).")(f)
    f = click.option("--name", "names", multiple=True, metavar="GLOB",
                     help="Only functions whose stable name matches (glob, or re:REGEX).")(f)
    f = click.option("--allow-empty", is_flag=True, help="Succeed when nothing matches.")(f)
    return network_option(f)

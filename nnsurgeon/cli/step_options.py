"""Click options made from a pass's declared options (:mod:`nnsurgeon.passes.options`), and back: the values
a user gave become a plan step's options. One declaration, so a CLI flag and a recipe key cannot drift apart."""
from typing import Dict, Sequence

import click

from ..errors import CLI_FLAGS
from ..passes import PASSES


def _click_option(o):
    kwargs = {"default": None, "help": o.help, "metavar": o.metavar}
    if o.kind in ("types", "names", "networks", "ranges"):
        kwargs.update(multiple=True, default=())
        kwargs["help"] = o.help + (" Repeat." if o.kind == "ranges" else " Repeat or comma-separate.")
    elif o.kind == "bool":
        return _with_idea(click.option(o.flag, *o.aliases, o.attr, is_flag=True, default=None, help=o.help), o)
    elif o.kind == "int":
        kwargs["type"] = int
    elif o.kind == "number":
        kwargs["type"] = float
    elif o.kind == "enum":
        kwargs["type"] = click.Choice(list(o.choices))
        kwargs["metavar"] = None
    if o.default not in (None, (), False):
        shown = ",".join(o.default) if isinstance(o.default, tuple) else o.default
        kwargs["help"] += f"  [default: {shown}]"
    return _with_idea(click.option(o.flag, *o.aliases, o.attr, **kwargs), o)


def _with_idea(decorator, o):
    """The click option, marked with the idea it spells (a test checks one spelling per idea)."""
    def decorate(f):
        f = decorator(f)
        f.__click_params__[-1].idea = o.idea or o.key
        return f
    return decorate


def step_options(step: str, skip: Sequence[str] = ()):
    """Decorator adding the options of pass ``step`` (except ``skip``) to a click command."""
    p = PASSES[step]

    def decorate(f):
        for o in reversed(p.options):
            if o.key in skip or o.kind in ("mapping", "str-mapping", "rules"):
                continue
            if o.cli:
                CLI_FLAGS[o.key] = o.cli
            f = _click_option(o)(f)
        return f

    return decorate


def given_options(step: str, values: Dict) -> Dict:
    """The step options (recipe keys) the user gave on the command line, from click's keyword arguments."""
    out = {}
    for o in PASSES[step].options:
        v = values.get(o.attr)
        if v is None or v == () or v is False and o.kind == "bool":
            continue
        if o.kind == "ranges":  # --range NAME=LO,HI, repeated
            from ..passes.options import parse_range_text

            out[o.key] = dict(parse_range_text(t) for t in v)
            continue
        out[o.key] = list(v) if isinstance(v, tuple) else v
    return out

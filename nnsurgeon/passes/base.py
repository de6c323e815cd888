"""What a pass is, and what it returns.

A pass declares its options (:mod:`nnsurgeon.passes.options`) and does two things: **match** (which functions,
through :mod:`nnsurgeon.rules`, and what each change will be: a record for the user) and **rewrite** (make the
changes). The driver (:func:`nnsurgeon.plan.run_step`) does the rest for every pass alike: the loop over
networks, records, notes, the summary wording, step-numbered errors, pruning variables nothing uses and
dropping parameters nothing reads. A dry run is the same plan on a copy of the model, so a pass never asks
whether it is a dry run (except to skip calibration, which needs data).

A new pass: a module in ``nnsurgeon/passes/`` with a :class:`Pass` subclass (name, options, match, rewrite;
typically 30-60 lines) and one line in :data:`nnsurgeon.passes.PASSES`. The CLI command, the recipe step, the
JSON Schema and the Python function come from those.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .options import Option


@dataclass
class PassResult:
    """``changed``: the model differs; ``records``: one dict per change (JSON-friendly); ``notes``: lines for
    the user (skipped items, warnings); ``summary``: one line."""

    name: str
    changed: bool = False
    records: List[Dict] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    summary: str = ""


@dataclass
class Change:
    """One change a pass will make: ``record`` is shown to the user, ``data`` is for the pass's rewrite."""

    record: Dict
    data: Any = None


@dataclass
class Context:
    """What the driver tells a pass about the run."""

    dry_run: bool = False
    progress: bool = True
    notes: List[str] = field(default_factory=list)


class Pass:
    """Base class: subclasses set the class attributes and implement :meth:`match` and :meth:`rewrite`."""

    name: str = ""
    options: Tuple[Option, ...] = ()
    required: Tuple[Tuple[str, ...], ...] = ()  # at least one option of each group
    verbs: Tuple[str, str] = ("changed", "would change")  # summary verb, real and dry run
    noun: str = "function"
    help: str = ""
    prunes: bool = False  # drop variables no function uses any more after the rewrite

    def check(self, opts) -> None:
        """Checks of the options alone, before any model is read (raise OptionError)."""

    def select(self, model, opts) -> Dict[str, Tuple[object, List[object]]]:
        """{network: (view, selected functions)}: by default the selection options through the rules."""
        from ..rules import Selector, select

        return select(model, Selector(list(opts.types), list(opts.names), list(opts.exclude), list(opts.networks)),
                      opts.allow_empty)

    def match(self, model, net, functions: Sequence[object], opts, notes: List[str]) -> List[Change]:
        """The changes to make in one network (nothing is edited yet)."""
        raise NotImplementedError

    def prepare(self, model, matched: Dict[str, Tuple[object, List[Change]]], opts, ctx: Context) -> None:
        """Work between match and rewrite over every network at once (quantize calibrates here)."""

    def rewrite(self, model, net, changes: List[Change], opts) -> None:
        """Make ``changes`` in network view ``net``."""
        raise NotImplementedError

    def details(self, opts, ctx: Context, result: PassResult) -> str:
        """What the summary adds after the count (levels, modes, ...)."""
        return ""

    def count(self, result: PassResult) -> int:
        return len(result.records)

    def noun_for(self, opts) -> str:
        """What the summary counts, when it depends on the options (quantize's format)."""
        return self.noun


def summary_line(p: Pass, result: PassResult, networks: int, dry_run: bool, details: str = "",
                 noun: str = "") -> str:
    verb = p.verbs[1] if dry_run else p.verbs[0]
    n = p.count(result)
    text = f"{verb} {n} {noun or p.noun}(s)" + (f" in {networks} network(s)" if networks > 1 else "")
    if details:
        text += ", " + details
    if dry_run:
        text += " (dry run, nothing written)"
    return text


def default_networks(opts) -> Optional[Sequence[str]]:
    return getattr(opts, "networks", None) or None

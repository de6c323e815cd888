"""The plan: the only way a model changes. load -> steps -> check -> save, for the CLI, recipes and Python.

A :class:`Step` names a pass of :data:`nnsurgeon.passes.PASSES` and holds its options as the caller gave them
(recipe keys ``allow-empty`` or Python keywords ``allow_empty``); every value goes through
:func:`nnsurgeon.passes.options.parse_options`, so the CLI, recipes and Python accept the same values.
:func:`run_step` is the driver every pass runs under: select, match, (prepare), rewrite, prune, drop unused
parameters, records and summary. After the steps, every changed network is validated and built with NNabla,
so a plan that would write a model NNabla cannot run fails before anything is written. A dry run is the same
plan on a copy of the model (calibration skipped and said so), so dry run and apply agree by construction.
"""
import os
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from .errors import ModelError, NnsurgeonError, OptionError
from .interrupt import check_interrupted
from .model import load_model, write_nnp
from .model.output import check_output
from .passes import PASSES, Context, Pass, PassResult
from .passes.base import summary_line
from .passes.common import drop_parameters_no_longer_used, used_parameters
from .passes.options import parse_options, paths_in


@dataclass
class Step:
    """One pass by its registry name, with its options as given (recipe or Python keys); ``origin`` says
    where it was written (``recipe.yaml:7:5``) for error messages."""

    name: str
    options: Dict = field(default_factory=dict)
    origin: str = ""


def parse_step(step: Step, base_dir: str = ".", default_networks: Sequence[str] = ()) -> Tuple[Pass, object]:
    """(pass, typed options) for ``step``; raises :class:`OptionError` for unknown steps or bad values."""
    if step.name not in PASSES:
        import difflib

        close = difflib.get_close_matches(step.name, list(PASSES), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise OptionError(f"unknown step '{step.name}'; {hint}steps: {', '.join(PASSES)}")
    p = PASSES[step.name]
    raw = dict(step.options)
    if default_networks and "networks" in {o.key for o in p.options} and not raw.get("networks"):
        raw["networks"] = list(default_networks)
    opts = parse_options(p.name, p.options, raw, base_dir, p.required)
    p.check(opts)
    return p, opts


@dataclass
class Plan:
    """Steps applied in order to a model.

    Example::

        plan = Plan([Step("remove", {"types": ["Dropout"]}), Step("quantize", {"after": ["ReLU", "Affine"]})])
        results = plan.apply(model)
    """

    steps: List[Step] = field(default_factory=list)
    default_networks: List[str] = field(default_factory=list)
    base_dir: str = "."

    def parsed(self) -> List[Tuple[Step, Pass, object]]:
        """Every step validated (before any model is read); errors name the step."""
        out = []
        for number, step in enumerate(self.steps, 1):
            try:
                p, opts = parse_step(step, self.base_dir, self.default_networks)
            except NnsurgeonError as e:
                raise self._annotated(e, number, step) from None
            out.append((step, p, opts))
        return out

    def inputs(self) -> List[str]:
        """Files the steps read (calibration data, ...), absolute."""
        return [path for _, p, opts in self.parsed() for path in paths_in(p.options, opts)]

    def apply(self, model, dry_run: bool = False, progress: bool = True) -> List[PassResult]:
        """Run every step on ``model`` (in place; on a copy when ``dry_run``), then validate and build every
        changed network with NNabla. Returns one :class:`PassResult` per step."""
        results, build_check = self._run(model, dry_run, progress)
        build_check()
        return results

    def _run(self, model, dry_run: bool, progress: bool) -> Tuple[List[PassResult], Callable[[], None]]:
        """(results, the build check of the result: a call that raises its error) after every step."""
        steps = self.parsed()
        target = model.copy() if dry_run else model
        results = []
        changed: Set[str] = set()
        for number, (step, p, opts) in enumerate(steps, 1):
            check_interrupted()
            ctx = Context(dry_run=dry_run, progress=progress)
            try:
                result = run_step(target, p, opts, ctx)
            except NnsurgeonError as e:
                raise self._annotated(e, number, step) from None
            changed.update(r["network"] for r in result.records if "network" in r)
            results.append(result)
        check_interrupted()
        return results, partial(check_buildable, target, sorted(changed),
                                [s.name for s, _, _ in steps] if len(steps) > 1 else ())

    def _annotated(self, e: NnsurgeonError, number: int, step: Step) -> NnsurgeonError:
        if len(self.steps) == 1 and not step.origin:
            return e
        where = f" at {step.origin}" if step.origin else ""
        new = type(e)(f"step {number} ({step.name}){where}: {e}")
        new.dialect = e.dialect
        return new


def run_step(model, p: Pass, opts, ctx: Optional[Context] = None) -> PassResult:
    """The driver: one pass over ``model`` in place (see :class:`nnsurgeon.passes.base.Pass`)."""
    ctx = ctx or Context()
    before = used_parameters(model)
    result = PassResult(p.name)
    matched = {}
    exclude = list(getattr(opts, "exclude", ()) or ())
    if exclude:
        from .rules.selector import unmatched_excludes

        scope = list(getattr(opts, "networks", ()) or ()) or model.network_names
        result.notes.extend(unmatched_excludes(
            [f for n in scope if n in model.network_names for f in model.network(n).function], exclude))
    for net_name, (view, functions) in p.select(model, opts).items():
        matched[net_name] = (view, p.match(model, view, functions, opts, result.notes))
    p.prepare(model, matched, opts, ctx)
    networks = 0
    for view, changes in matched.values():
        if not changes:
            continue
        p.rewrite(model, view, changes, opts)
        if p.prunes:
            view.prune_variables()
        result.records.extend(c.record for c in changes)
        networks += 1
    drop_parameters_no_longer_used(model, before)
    model.invalidate_views()
    result.changed = bool(result.records)
    result.notes.extend(ctx.notes)
    result.summary = summary_line(p, result, networks, ctx.dry_run, p.details(opts, ctx, result), p.noun_for(opts))
    return result


def check_buildable(model, networks: Sequence[str], steps: Sequence[str] = ()) -> None:
    """Validate the edited model and build each of ``networks`` with NNabla; raise one :class:`ModelError`
    naming the network (and the steps) when NNabla cannot build it."""
    from .graph.live import LiveNetwork
    from .model import validate

    try:
        validate(model)
    except ModelError as e:
        raise ModelError(f"the result would be invalid: {e}; nothing was written") from None
    for name in networks:
        check_interrupted()
        try:
            LiveNetwork(model, name, values=False)  # built and shape-checked; no parameter copied
        except ModelError as e:
            after = f" after steps {', '.join(steps)}" if steps else ""
            raise ModelError(f"NNabla cannot build network '{name}' of the result{after} ({e.detail}); "
                             "nothing was written") from None


def run_plan(model_spec: str, plan: Plan, output: Optional[str] = None, network_format: Optional[str] = None,
             param_format: Optional[str] = None, force: bool = False, dry_run: bool = False,
             expect: Optional[Dict] = None, inputs: Sequence[str] = (), progress: bool = True):
    """Load ``model_spec``, apply ``plan``, check ``expect`` (recipe form), save to ``output`` (checked before
    any work; not written when an expectation fails). ``inputs``: other files the caller read (a recipe),
    refused as outputs. Returns ``(results, model, checks)``."""
    all_inputs = [model_spec] + plan.inputs() + list(inputs)
    if expect and (expect.get("compare") or {}).get("input"):
        data = expect["compare"]["input"]
        all_inputs.append(data if os.path.isabs(data) else os.path.join(plan.base_dir, data))
    if output and not dry_run:
        check_output(output, inputs=all_inputs, force=force, extensions=(".nnp",))
    model = load_model(model_spec)
    original = model.copy() if expect and expect.get("compare") and not dry_run else None
    if not output or dry_run or expect:
        results = plan.apply(model, dry_run=dry_run, progress=progress)
        checks = []
        if expect and not dry_run:
            from .expectations import check_expectations

            checks = check_expectations(original, model, expect, plan.base_dir, plan.default_networks)
        if output and not dry_run and all(c["ok"] for c in checks):
            write_nnp(model, output, network_format, param_format, force=force, inputs=all_inputs)
        return results, model, checks
    results, build_check = plan._run(model, dry_run=False, progress=progress)
    _write_beside_build_check(model, build_check, output, network_format, param_format, force, all_inputs)
    return results, model, []


def _write_beside_build_check(model, build_check, output, network_format, param_format, force, inputs) -> None:
    """Build the result with NNabla in a child process (:mod:`nnsurgeon.model.beside`, CPU only) while this one
    renders, checks and writes it; the output is renamed into place only once the build check passed, and
    the build check's error comes first, as when it ran first. Without a child it runs first, here."""
    from .model import beside as beside_module

    functions = sum(len(net.function) for net in model.proto.network if net.name in build_check.args[1])
    worth = beside_module.build_worth_forking(functions, sum(p.data.nbytes for p in model.parameters.values()))
    with beside_module.beside(build_check, fork=worth and _on_cpu()) as check:
        if not check.forked:
            check.result()
            write_nnp(model, output, network_format, param_format, force=force, inputs=inputs)
            return
        try:
            write_nnp(model, output, network_format, param_format, force=force, inputs=inputs,
                      before_commit=check.result)
        except Exception:  # whatever stopped the write (out of memory included), the build check speaks first
            check.result()
            raise


def _on_cpu() -> bool:
    """Whether NNabla's current context is the CPU: a forked child must not touch a GPU context."""
    from ._nnabla import nnabla_quiet

    nn = nnabla_quiet()
    return all(b.startswith("cpu") for b in nn.get_current_context().backend)

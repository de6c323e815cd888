"""load -> passes -> save: the one place that joins files and graph edits. Every editing command is a plan
of one or more steps; a recipe is a longer plan through the same code.

A :class:`Step` holds a pass name and its options as a recipe writes them (``{"after": ["ReLU"], "bits":
8}``), so a plan and a recipe translate into each other (:func:`nnsurgeon.recipe.plan_to_yaml`,
:func:`nnsurgeon.recipe.parse_recipe`).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .errors import NnsurgeonError
from .model import check_output_path, load_model, write_nnp
from .passes import PASSES, PassResult
from .passes.options import to_kwargs


@dataclass
class Step:
    """One pass by its registry name, with its options in recipe form (hyphenated keys)."""

    name: str
    options: Dict = field(default_factory=dict)


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

    def apply(self, model, dry_run: bool = False) -> List[PassResult]:
        """Run every step on ``model`` in place; a failing step is named in the error."""
        results = []
        for number, step in enumerate(self.steps, 1):
            if step.name not in PASSES:
                raise NnsurgeonError(f"unknown step '{step.name}'; known steps: {', '.join(sorted(PASSES))}")
            try:
                kwargs = to_kwargs(step.name, step.options, self.base_dir, self.default_networks)
                results.append(PASSES[step.name](model, dry_run=dry_run, **kwargs))
            except NnsurgeonError as e:
                if len(self.steps) > 1:
                    raise type(e)(f"step {number} ({step.name}): {e}") from None
                raise
        return results


def run_plan(model_spec: str, plan: Plan, output: Optional[str], network_format: Optional[str] = None,
             param_format: Optional[str] = None, force: bool = False, dry_run: bool = False,
             expect: Optional[Dict] = None):
    """Load ``model_spec``, apply ``plan``, check ``expect`` (recipe form), save to ``output`` (checked before
    any work; not written when an expectation fails). Returns ``(results, model, checks)``."""
    if output and not dry_run:
        check_output_path(output, model_spec, force)
    model = load_model(model_spec)
    original = model.copy() if expect and expect.get("compare") and not dry_run else None
    results = plan.apply(model, dry_run=dry_run)
    checks = []
    if expect and not dry_run:
        from .recipe.expect import check_expectations

        checks = check_expectations(original, model, expect, plan.base_dir)
    if output and not dry_run and all(c["ok"] for c in checks):
        write_nnp(model, output, network_format, param_format, force=force)
    return results, model, checks

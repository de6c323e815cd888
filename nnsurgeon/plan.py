"""load -> passes -> save: the one place that joins files and graph edits. Every editing command is a plan
of one or more steps; a recipe is a longer plan through the same code."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .errors import NnsurgeonError
from .model import check_output_path, load_model, write_nnp
from .passes import PASSES, PassResult


@dataclass
class Step:
    """One pass by its registry name, with its options."""

    name: str
    options: Dict = field(default_factory=dict)


@dataclass
class Plan:
    """Steps applied in order to a model, then saved to ``output`` unless dry-run."""

    steps: List[Step] = field(default_factory=list)

    def apply(self, model, dry_run: bool = False) -> List[PassResult]:
        """Run every step on ``model`` in place; a failing step is named in the error."""
        results = []
        for number, step in enumerate(self.steps, 1):
            if step.name not in PASSES:
                raise NnsurgeonError(f"unknown step '{step.name}'; known steps: {', '.join(sorted(PASSES))}")
            options = dict(step.options)
            if dry_run and step.name == "quantize":
                options["dry_run"] = True
            try:
                results.append(PASSES[step.name](model, **options))
            except NnsurgeonError as e:
                if len(self.steps) > 1:
                    raise type(e)(f"step {number} ({step.name}): {e}") from None
                raise
        return results


def run_plan(model_spec: str, plan: Plan, output: Optional[str], network_format: Optional[str] = None,
             param_format: Optional[str] = None, force: bool = False, dry_run: bool = False):
    """Load ``model_spec``, apply ``plan``, save to ``output`` (checked before any work). Returns
    ``(results, model)``."""
    if output and not dry_run:
        check_output_path(output, model_spec, force)
    model = load_model(model_spec)
    results = plan.apply(model, dry_run=dry_run)
    if output and not dry_run:
        write_nnp(model, output, network_format, param_format, force=force)
    return results, model

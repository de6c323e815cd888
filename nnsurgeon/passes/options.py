"""Every pass's options as a recipe (and the CLI) spells them, with their kinds, and how they become the
pass's keyword arguments. One table serves the plan, recipe validation, the JSON Schema and --emit-recipe.
Option names are the CLI's, with hyphens (``allow-empty``, ``batch-size``).
"""
import os
from typing import Dict, Tuple

# kind: names (a string "A,B" or a list of strings), str, int, number, bool, path, mapping, str-mapping,
# or ("enum", [...])
SELECT = {"types": "names", "names": "names", "exclude": "names", "networks": "names", "allow-empty": "bool"}

STEPS: Dict[str, Dict[str, object]] = {
    "quantize": {"after": "names", "names": "names", "exclude": "names", "networks": "names",
                 "allow-empty": "bool", "bits": "int", "signed": "bool", "ql-min": "number", "ql-max": "number",
                 "calibrate": "path", "calib-batches": "int", "batch-size": "int",
                 "method": ("enum", ["minmax", "ema", "percentile"]), "context": "str"},
    "remove": dict(SELECT),
    "replace": dict(SELECT, to="str", args="mapping"),
    "fold-batchnorm": {"names": "names", "exclude": "names", "networks": "names", "allow-empty": "bool"},
    "cut": dict(SELECT),
    "rename": {"functions": "str-mapping", "variables": "str-mapping", "networks": "names"},
    "set-batch-size": {"batch-size": "int", "networks": "names"},
}

REQUIRED: Dict[str, Tuple[Tuple[str, ...], ...]] = {  # at least one of each tuple
    "quantize": (("after", "names"),),
    "remove": (("types", "names"),),
    "replace": (("types", "names"), ("to", "args")),
    "cut": (("types", "names"),),
    "rename": (("functions", "variables"),),
    "set-batch-size": (("batch-size",),),
}

_CALIBRATION = ("calibrate", "calib-batches", "batch-size", "method", "context")


def as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [x.strip() for x in value.split(",") if x.strip()]
    return list(value)


def to_kwargs(step: str, options: Dict, base_dir: str = ".", default_networks=()) -> Dict:
    """Recipe options of ``step`` -> keyword arguments of the pass in :data:`nnsurgeon.passes.PASSES`."""
    kinds = STEPS[step]
    kwargs = {}
    for key, value in options.items():
        kind = kinds[key]
        if step == "quantize" and key in _CALIBRATION:
            continue
        name = key.replace("-", "_")
        kwargs[name] = as_list(value) if kind == "names" else value
    if "networks" in kinds and not kwargs.get("networks") and default_networks:
        kwargs["networks"] = list(default_networks)
    if step == "quantize" and options.get("calibrate"):
        from ..runtime.calibrate import Calibrator

        data = options["calibrate"]
        kwargs["calibrate"] = Calibrator(
            data if os.path.isabs(data) else os.path.join(base_dir, data),
            batch_size=options.get("batch-size", 32), max_batches=options.get("calib-batches"),
            method=options.get("method", "minmax"), context=options.get("context", "cpu"))
    return kwargs

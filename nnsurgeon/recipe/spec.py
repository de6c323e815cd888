"""What a recipe may say: the steps' options (from :mod:`nnsurgeon.passes.options`), the top level and
``expect``; and the JSON Schema shipped for editors, generated from these tables.
"""
from typing import Dict

from ..passes.options import REQUIRED, STEPS, as_list  # noqa: F401  (the steps, as recipes name them)

TOP = {"version": "int", "model": "str", "networks": "names", "steps": "list", "expect": "mapping"}
EXPECT = {"counts": "int-mapping", "network": "str", "compare": "mapping"}
COMPARE = {"input": "path", "random": "bool", "seed": "int", "samples": "int", "atol": "number", "rtol": "number",
           "min-cosine": "number", "min-top1": "number", "batch-size": "int"}


def json_schema() -> Dict:
    """The JSON Schema of a recipe, generated from the tables above (shipped as recipe.schema.json)."""
    def kind_schema(kind):
        if isinstance(kind, tuple):
            return {"enum": kind[1]}
        return {
            "names": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "str": {"type": "string"}, "path": {"type": "string"}, "int": {"type": "integer"},
            "number": {"type": "number"}, "bool": {"type": "boolean"}, "mapping": {"type": "object"},
            "str-mapping": {"type": "object", "additionalProperties": {"type": "string"}},
            "int-mapping": {"type": "object", "additionalProperties": {"type": "integer"}},
            "list": {"type": "array"},
        }[kind]

    def obj(table):
        return {"type": "object", "additionalProperties": False,
                "properties": {k: kind_schema(v) for k, v in table.items()}}

    steps = [{"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
              "properties": {name: obj(table)}} for name, table in STEPS.items()]
    top = obj(TOP)
    top["required"] = ["version", "steps"]
    top["properties"]["version"] = {"const": 1}
    top["properties"]["steps"] = {"type": "array", "items": {"oneOf": steps}}
    expect = obj(EXPECT)
    expect["properties"]["compare"] = obj(COMPARE)
    top["properties"]["expect"] = expect
    top["$schema"] = "http://json-schema.org/draft-07/schema#"
    top["title"] = "nnsurgeon recipe"
    return top

"""What a recipe may say besides its steps (whose options each pass declares): the top level and ``expect``;
and the JSON Schema shipped for editors, generated from the same declarations.
"""
from typing import Dict

from ..passes import PASSES
from ..passes.options import Option

TOP = (Option("version", "int", None, "Recipe format version: 1."),
       Option("model", "str", None, "The model to start from (path relative to the recipe, or a pretrained name)."),
       Option("networks", "networks", (), "Default networks of every step and of the expectations."))
EXPECT = (Option("network", "str", None, "The network the checks look at."),)
COMPARE = (Option("input", "path", None, "Data to compare on (relative to the recipe)."),
           Option("random", "bool", False, "Compare on seeded random inputs."),
           Option("seed", "int", 0, "Seed for random inputs.", min=0),
           Option("samples", "int", 8, "Random samples.", min=1, max=10 ** 7),
           Option("atol", "number", None, "Absolute tolerance.", min=0),
           Option("rtol", "number", None, "Relative tolerance.", min=0),
           Option("min-cosine", "number", None, "Lowest cosine similarity per output.", min=-1, max=1),
           Option("min-top1", "number", None, "Lowest top-1 agreement per output.", min=0, max=1),
           Option("min-sqnr", "number", None, "Lowest output SQNR in dB against the original."),
           Option("labels", "str", None, "Class indices of the input samples: .npy/.npz (relative to the recipe) "
                  "or an array name of the input .npz."),
           Option("max-accuracy-drop", "number", None, "Largest accuracy drop in percentage points (needs labels).",
                  min=0, max=100),
           Option("batch-size", "int", 32, "Batch size.", min=1, max=65536),
           Option("output-atol", "mapping", None, "Absolute tolerance per output name ({y: 0.001}); atol for the rest."),
           Option("output-rtol", "mapping", None, "Relative tolerance per output name; rtol for the rest."),
           Option("quantile", "number", 0.99, "Which quantile of |a-b| to report.", min=0, max=1),
           Option("check-finite", "bool", False, "Fail when an output holds NaN or Inf."))


def _kind_schema(o: Option) -> Dict:
    if o.kind == "enum":
        return {"enum": list(o.choices)}
    base = {
        "types": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "str": {"type": "string"}, "type": {"type": "string"}, "path": {"type": "string"},
        "int": {"type": "integer"}, "number": {"type": "number"}, "bool": {"type": "boolean"},
        "mapping": {"type": "object"},
        "rules": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                             "properties": {"name": {"type": "string"}, "type": {"type": "string"},
                                                            "bits": {"type": "integer", "minimum": 2,
                                                                     "maximum": 16}},
                                             "required": ["bits"]}},
        "ranges": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "number"},
                                                              "minItems": 2, "maxItems": 2}}, "str-mapping": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    schema = dict(base.get(o.kind, base["types"]))
    if o.kind in ("int", "number"):
        if o.min is not None:
            schema["minimum"] = o.min
        if o.max is not None:
            schema["maximum"] = o.max
    if o.help:
        schema["description"] = o.help
    return schema


def _object(options) -> Dict:
    properties = {}
    for o in options:
        properties[o.key] = _kind_schema(o)
        for synonym in o.synonyms:
            properties[synonym] = dict(_kind_schema(o), description=f"Same as '{o.key}'.")
    return {"type": "object", "additionalProperties": False, "properties": properties}


def json_schema() -> Dict:
    """The JSON Schema of a recipe (shipped as recipe.schema.json; a test keeps it current)."""
    steps = [{"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
              "properties": {name: _object(p.options)}} for name, p in PASSES.items()]
    top = _object(TOP)
    top["required"] = ["version", "steps"]
    top["properties"]["version"] = {"const": 1}
    top["properties"]["steps"] = {"type": "array", "items": {"oneOf": steps}}
    expect = _object(EXPECT)
    expect["properties"]["counts"] = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
    expect["properties"]["compare"] = _object(COMPARE)
    top["properties"]["expect"] = expect
    top["$schema"] = "http://json-schema.org/draft-07/schema#"
    top["title"] = "nnsurgeon recipe"
    return top

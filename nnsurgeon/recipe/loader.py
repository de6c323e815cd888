"""YAML -> :class:`Recipe`, validated, with errors that point into the file (``recipe.yaml:12:5: ...``).

Only YAML's plain types are accepted (mappings, lists, strings, numbers, booleans, null): parsing uses
PyYAML's safe loader, and any tag such as ``!!python/object`` is refused before anything is built.

A recipe is untrusted text, so before the document is built its events are scanned once: at most
``MAX_RECIPE_BYTES`` of text, no NUL byte, nesting at most ``MAX_DEPTH`` deep, at most ``MAX_VALUES`` values once
aliases are expanded (a "billion laughs" alias bomb is refused), no alias inside its own anchor, and at most
``MAX_STEPS`` steps.
"""
import difflib
import os
import stat
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import yaml

from ..errors import NnsurgeonError
from ..plan import Plan, Step
from . import spec

MAX_RECIPE_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_VALUES = 100_000
MAX_STEPS = 10_000
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: same events, faster
_PLAIN = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}


class RecipeError(NnsurgeonError):
    """A recipe that cannot be used as written; the message starts with file:line:column."""


@dataclass
class Recipe:
    """A validated recipe: the model to start from (optional), default networks, steps, expectations."""

    steps: List[Step]
    model: Optional[str] = None
    networks: List[str] = field(default_factory=list)
    expect: Dict = field(default_factory=dict)
    path: str = "<recipe>"
    version: int = 1

    @property
    def base_dir(self) -> str:
        return os.path.dirname(os.path.abspath(self.path)) if os.path.exists(self.path) else "."

    def plan(self) -> Plan:
        return Plan(list(self.steps), default_networks=list(self.networks), base_dir=self.base_dir)

    def model_path(self) -> Optional[str]:
        if self.model is None or self.model.startswith("nnabla.models:") or os.path.isabs(self.model):
            return self.model
        return os.path.join(self.base_dir, self.model)


def load_recipe(path: str) -> Recipe:
    """Read and validate the recipe at ``path``.

    Example::

        recipe = load_recipe("recipes/ptq-8bit.yaml")
        print([s.name for s in recipe.steps])
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the read for ever
            raise RecipeError(f"{path}: is not a regular file (a pipe or device?); give a .yaml file")
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_RECIPE_BYTES + 1)
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such recipe file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RecipeError(f"{path}: cannot read the recipe ({e})") from None
    return parse_recipe(text, path)


def parse_recipe(text: str, path: str = "<recipe>") -> Recipe:
    """Validate recipe ``text`` (``path`` names it in errors and anchors relative paths)."""
    _check_text(text, path)
    loader = None
    try:
        _scan_events(text, path)
        loader = _LOADER(text)
        node = loader.get_single_node()
        if node is None:
            raise RecipeError(f"{path}:1:1: the recipe is empty; it needs 'version: 1' and 'steps'")
        _check_tags(node, path)
        _check_step_count(node, path)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise RecipeError(f"{where}: malformed YAML ({e.problem or e.context})") from None
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: malformed YAML ({e})") from None
    finally:
        if loader is not None:
            loader.dispose()
    return _Validator(path).recipe(node, data)


def _check_text(text: str, path: str) -> None:
    if len(text) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{path}: the recipe is larger than {MAX_RECIPE_BYTES:,} characters; recipes are short "
                          "lists of steps, split it or check that this is the right file")
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        column = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise RecipeError(f"{path}:{line}:{column}: the recipe holds a NUL byte; is this a text file?")


def _scan_events(text: str, path: str) -> None:
    """One pass over the YAML events (PyYAML's parser is iterative, so deep nesting cannot overflow the
    stack here): refuse deep nesting, recursive aliases, and documents that expand past ``MAX_VALUES``."""
    sizes = {}  # anchor -> values its node expands to
    open_anchors = set()
    stack = []  # [anchor, values so far] per open collection

    def add(size, event):
        if stack:
            stack[-1][1] += size
        if max(size, stack[-1][1] if stack else 0) > MAX_VALUES:
            m = event.start_mark
            raise RecipeError(f"{path}:{m.line + 1}:{m.column + 1}: the recipe expands to more than {MAX_VALUES:,} "
                              "values once its aliases are expanded (a YAML alias bomb?); recipes need far fewer")

    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) >= MAX_DEPTH:
                m = event.start_mark
                raise RecipeError(f"{path}:{m.line + 1}:{m.column + 1}: the recipe is nested more than {MAX_DEPTH} "
                                  "levels deep; recipes need a few")
            stack.append([event.anchor, 1])
            if event.anchor:
                open_anchors.add(event.anchor)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = stack.pop()
            if anchor:
                sizes[anchor] = size
                open_anchors.discard(anchor)
            add(size, event)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                sizes[event.anchor] = 1
            add(1, event)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in open_anchors:
                m = event.start_mark
                raise RecipeError(f"{path}:{m.line + 1}:{m.column + 1}: recursive alias '*{event.anchor}' (used "
                                  "inside its own anchor); recipes cannot refer to themselves")
            add(sizes.get(event.anchor, 1), event)


def _check_step_count(node, path: str) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    for key, value in node.value:
        if key.value == "steps" and isinstance(value, yaml.SequenceNode) and len(value.value) > MAX_STEPS:
            m = value.start_mark
            raise RecipeError(f"{path}:{m.line + 1}:{m.column + 1}: the recipe has {len(value.value):,} steps, "
                              f"more than the {MAX_STEPS:,} nnsurgeon runs; split it")


def _check_tags(node, path):
    if node.tag not in _PLAIN:
        m = node.start_mark
        raise RecipeError(f"{path}:{m.line + 1}:{m.column + 1}: tag '{node.tag}' is not allowed; recipes hold "
                          "plain YAML values only")
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _check_tags(k, path)
            _check_tags(v, path)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _check_tags(v, path)


class _Validator:
    def __init__(self, path):
        self.path = path

    def error(self, node, message):
        m = node.start_mark
        return RecipeError(f"{self.path}:{m.line + 1}:{m.column + 1}: {message}")

    def items(self, node):
        """(key, key node, value node) of a mapping node."""
        return [(k.value, k, v) for k, v in node.value]

    def mapping(self, node, data, table, where, required=()):
        if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{where} must be a mapping of options")
        for key, knode, vnode in self.items(node):
            if key not in table:
                close = difflib.get_close_matches(str(key), list(table), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; allowed: {', '.join(table)}"
                raise self.error(knode, f"unknown key '{key}' in {where}{hint}")
            self.value(vnode, data[key], table[key], f"'{key}' in {where}")
        for group in required:
            if not any(k in data for k in group):
                raise self.error(node, f"{where} needs {' or '.join(repr(k) for k in group)}")

    def value(self, node, value, kind, where):
        ok = {
            "names": lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
            "str": lambda v: isinstance(v, str), "path": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool), "mapping": lambda v: isinstance(v, dict),
            "list": lambda v: isinstance(v, list),
            "str-mapping": lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str)
                                                                 for k, x in v.items()),
            "int-mapping": lambda v: isinstance(v, dict) and all(
                isinstance(k, str) and isinstance(x, int) and not isinstance(x, bool) for k, x in v.items()),
        }
        if isinstance(kind, tuple):
            if value not in kind[1]:
                raise self.error(node, f"{where} must be one of {', '.join(kind[1])}, not {value!r}")
            return
        if not ok[kind](value):
            wanted = {"names": "a name or a list of names", "str": "a string", "path": "a path", "int": "an integer",
                      "number": "a number", "bool": "true or false", "mapping": "a mapping", "list": "a list",
                      "str-mapping": "a mapping of names to names",
                      "int-mapping": "a mapping of names to integers"}[kind]
            raise self.error(node, f"{where} must be {wanted}, not {type(value).__name__} {value!r}")

    def types(self, node, names, where):
        from ..graph.functions import check_type

        items = node.value if isinstance(node, yaml.SequenceNode) else [node] * len(spec.as_list(names))
        for name, item in zip(spec.as_list(names), items):
            try:
                check_type(name)
            except NnsurgeonError as e:
                raise self.error(item, f"{where}: {e}") from None

    def recipe(self, node, data) -> Recipe:
        self.mapping(node, data, spec.TOP, "the recipe", required=(("version",), ("steps",)))
        nodes = {k: v for k, _, v in self.items(node)}
        if data["version"] != 1:
            raise self.error(nodes["version"], f"unsupported recipe version {data['version']}; this nnsurgeon reads 1")
        steps = []
        step_nodes = nodes["steps"]
        if not data["steps"]:
            raise self.error(step_nodes, "'steps' is empty; give at least one step")
        for number, (snode, sdata) in enumerate(zip(step_nodes.value, data["steps"]), 1):
            if not isinstance(sdata, dict) or len(sdata) != 1:
                raise self.error(snode, f"step {number} must be a mapping with one key, the step's name "
                                        f"({', '.join(spec.STEPS)})")
            (name, knode, onode), = self.items(snode)
            if name not in spec.STEPS:
                close = difflib.get_close_matches(str(name), list(spec.STEPS), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; steps: {', '.join(spec.STEPS)}"
                raise self.error(knode, f"unknown step '{name}' in step {number}{hint}")
            options = sdata[name] if sdata[name] is not None else {}
            if sdata[name] is None:
                onode = yaml.MappingNode("tag:yaml.org,2002:map", [], knode.start_mark, knode.end_mark)
            where = f"step {number} ({name})"
            self.mapping(onode, options, spec.STEPS[name], where, spec.REQUIRED.get(name, ()))
            for key, _k2, v2 in self.items(onode):
                if key in ("after", "types"):
                    self.types(v2, options[key], f"'{key}' in {where}")
                if key == "to":
                    self.types(v2, options[key], f"'to' in {where}")
            steps.append(Step(name, dict(options)))
        expect = data.get("expect") or {}
        if "expect" in data and data["expect"] is not None:
            enode = nodes["expect"]
            self.mapping(enode, expect, spec.EXPECT, "expect")
            for key, _k2, v2 in self.items(enode):
                if key == "counts":
                    for tk, tknode, _ in self.items(v2):
                        self.types(tknode, tk, "'counts' in expect")
                if key == "compare":
                    self.mapping(v2, expect["compare"], spec.COMPARE, "expect.compare")
                    c = expect["compare"]
                    if bool(c.get("input")) == bool(c.get("random")):
                        raise self.error(v2, "expect.compare needs exactly one of 'input: DATA' or 'random: true'")
        return Recipe(steps, data.get("model"), spec.as_list(data.get("networks")), expect, self.path,
                      data["version"])


def plan_to_yaml(plan: Plan, model: Optional[str] = None, expect: Optional[Dict] = None) -> str:
    """The recipe text for ``plan``: the other direction of :func:`parse_recipe`.

    Example::

        text = plan_to_yaml(Plan([Step("quantize", {"after": ["ReLU"]})]), model="m.nnp")
    """
    data: Dict = {"version": 1}
    if model:
        data["model"] = model
    if plan.default_networks:
        data["networks"] = list(plan.default_networks)
    data["steps"] = [{s.name: _plain(s.options)} for s in plan.steps]
    if expect:
        data["expect"] = expect
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def _plain(options: Dict) -> Dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items() if v is not None and v != [] and
            v is not False}

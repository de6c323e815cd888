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
import re
import stat
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import yaml

from ..errors import NnsurgeonError, OptionError, dialect
from ..graph.functions import check_type
from ..passes import PASSES
from ..passes.options import given, parse_options
from ..plan import Plan, Step, parse_step
from . import spec

MAX_RECIPE_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_VALUES = 100_000
MAX_STEPS = 1_000
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: same events
# what YAML 1.1 readers refuse (PyYAML's Reader.NON_PRINTABLE), found here first so the error says where
_NOT_YAML = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
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
    _scan_events(text, path)
    try:
        node, data = _compose(text, path, _FAST_LOADER)
    except yaml.YAMLError:  # malformed: PyYAML's own loader says where, in the words users know
        node, data = _compose(text, path, yaml.SafeLoader)
    return _Validator(path).recipe(node, data)


def _compose(text: str, path: str, loader_class):
    """(node, data) of the single document in ``text``: tags checked before anything is constructed."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise RecipeError(f"{path}:1:1: the recipe is empty; it needs 'version: 1' and 'steps'")
        _check_tags(node, path)
        _check_step_count(node, path)
        return node, loader.construct_document(node)
    except yaml.YAMLError as e:
        if loader_class is not yaml.SafeLoader:
            raise
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = getattr(e, "problem", None) or getattr(e, "context", None) or e
        raise RecipeError(f"{where}: malformed YAML ({str(problem).splitlines()[0]})") from None
    finally:
        loader.dispose()


def _check_text(text: str, path: str) -> None:
    if len(text) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{path}: the recipe is larger than {MAX_RECIPE_BYTES:,} characters; recipes are short "
                          "lists of steps, split it or check that this is the right file")
    bad = _NOT_YAML.search(text)
    if bad:
        at = bad.start()
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        what = "a NUL byte" if bad.group() == "\x00" else f"character U+{ord(bad.group()):04X}"
        raise RecipeError(f"{path}:{line}:{column}: the recipe holds {what}, which YAML does not allow; "
                          "is this a text file?")


def _scan_events(text: str, path: str) -> None:
    """One pass over the YAML events (the parsers are iterative, so deep nesting cannot overflow the stack
    here): refuse deep nesting, recursive aliases, and documents that expand past ``MAX_VALUES``. libyaml's
    parser is used when present (fast on a big bomb); on malformed text the pass is redone with PyYAML's own
    parser, whose events up to the error are exactly what the composer below will see."""
    try:
        _scan(yaml.parse(text, Loader=_FAST_LOADER), path)
    except yaml.YAMLError:
        try:
            _scan(yaml.parse(text, Loader=yaml.SafeLoader), path)
        except yaml.YAMLError:
            return  # malformed: the composer reports it, where and as PyYAML says it


def _scan(events, path: str) -> None:
    sizes = {}  # anchor -> values its node expands to
    open_anchors = set()
    stack = []  # [anchor, values so far] per open collection

    def where(event):
        return f"{path}:{event.start_mark.line + 1}:{event.start_mark.column + 1}"

    def add(size, event):
        if stack:
            stack[-1][1] += size
        if max(size, stack[-1][1] if stack else 0) > MAX_VALUES:
            raise RecipeError(f"{where(event)}: the recipe expands to more than {MAX_VALUES:,} values once its "
                              "aliases are expanded (a YAML alias bomb?); recipes need far fewer")

    for event in events:
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) >= MAX_DEPTH:
                raise RecipeError(f"{where(event)}: the recipe is nested more than {MAX_DEPTH} levels deep; "
                                  "recipes need a few")
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
                raise RecipeError(f"{where(event)}: recursive alias '*{event.anchor}' (used inside its own "
                                  "anchor); recipes cannot refer to themselves")
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
    """Checks a parsed recipe against the steps' declared options (the same gate the CLI and Python use),
    pointing errors at the offending line and column."""

    def __init__(self, path):
        self.path = path
        self.base_dir = os.path.dirname(os.path.abspath(path)) if os.path.exists(path) else os.getcwd()

    def error(self, node, message):
        m = node.start_mark
        return RecipeError(f"{self.path}:{m.line + 1}:{m.column + 1}: {message}")

    def items(self, node):
        """(key, key node, value node) of a mapping node."""
        return [(k.value, k, v) for k, v in node.value]

    def node_of(self, mapping_node, key):
        for k, _knode, vnode in self.items(mapping_node):
            if str(k).replace("_", "-") == key:
                return vnode
        return mapping_node

    def options(self, node, data, table, where, required=()):
        """Validate a mapping against an Option table; return the typed options."""
        if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{where} must be a mapping of options")
        try:
            with dialect("recipe"):
                return parse_options(where, table, data, self.base_dir, required, where)
        except OptionError as e:
            raise self.error(self.target(node, e), str(e)) from None

    def target(self, node, e):
        """The node an option error is about: the unknown key, the bad list item, or the bad value."""
        key = getattr(e, "key", None)
        if not key or not isinstance(node, yaml.MappingNode):
            return node
        if getattr(e, "unknown", False):
            return next((knode for k, knode, _ in self.items(node) if k == key), node)
        value = self.node_of(node, key)
        item = getattr(e, "item", None)
        if item is not None and isinstance(value, yaml.SequenceNode):
            return next((v for v in value.value if getattr(v, "value", None) == item), value)
        if item is not None and isinstance(value, yaml.ScalarNode) and isinstance(value.value, str) \
                and item in value.value:
            return value
        return value

    def recipe(self, node, data) -> Recipe:
        if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
            raise self.error(node, "a recipe is a mapping with 'version: 1' and 'steps'")
        nodes = {k: v for k, _, v in self.items(node)}
        steps_data = data.get("steps")
        top = self.options(node, {k: v for k, v in data.items() if k not in ("steps", "expect")}, spec.TOP,
                           "the recipe", required=(("version",),))
        if "steps" not in data:
            raise self.error(node, "the recipe needs 'steps', a list of steps")
        if top.version != 1:
            raise self.error(nodes["version"], f"unsupported recipe version {top.version}; this nnsurgeon reads 1")
        step_nodes = nodes["steps"]
        if not isinstance(steps_data, list) or not isinstance(step_nodes, yaml.SequenceNode):
            raise self.error(step_nodes, "'steps' must be a list of steps")
        if not steps_data:
            raise self.error(step_nodes, "'steps' is empty; give at least one step")
        steps = []
        for number, (snode, sdata) in enumerate(zip(step_nodes.value, steps_data), 1):
            steps.append(self.step(number, snode, sdata, list(top.networks)))
        expect = {}
        if data.get("expect") is not None:
            expect = self.expect(nodes["expect"], data["expect"])
        model = top.model
        if model is not None and not model.startswith("nnabla.models:"):
            path = model if os.path.isabs(model) else os.path.join(self.base_dir, model)
            if not os.path.exists(path):
                raise self.error(nodes["model"], f"'model' names {model}, which does not exist (looked for {path})")
        return Recipe(steps, model, list(top.networks), expect, self.path, top.version)

    def step(self, number, snode, sdata, networks) -> Step:
        if not isinstance(sdata, dict) or len(sdata) != 1 or not isinstance(snode, yaml.MappingNode):
            raise self.error(snode, f"step {number} must be a mapping with one key, the step's name "
                                    f"({', '.join(PASSES)})")
        (name, knode, onode), = self.items(snode)
        if name not in PASSES:
            close = difflib.get_close_matches(str(name), list(PASSES), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; steps: {', '.join(PASSES)}"
            raise self.error(knode, f"unknown step '{name}' in step {number}{hint}")
        options = sdata[name] if sdata[name] is not None else {}
        if sdata[name] is None:
            onode = yaml.MappingNode("tag:yaml.org,2002:map", [], knode.start_mark, knode.end_mark)
        where = f"step {number} ({name})"
        p = PASSES[name]
        self.options(onode, options, p.options, where, p.required)
        origin = f"{self.path}:{knode.start_mark.line + 1}:{knode.start_mark.column + 1}"
        step = Step(name, dict(options), origin)
        try:
            with dialect("recipe"):
                parse_step(step, self.base_dir, networks)
        except OptionError as e:
            raise self.error(self.target(onode, e), f"{e} (in {where})") from None
        return step

    def expect(self, enode, edata) -> Dict:
        if not isinstance(edata, dict) or not isinstance(enode, yaml.MappingNode):
            raise self.error(enode, "'expect' must be a mapping")
        self.options(enode, {k: v for k, v in edata.items() if k not in ("counts", "compare")}, spec.EXPECT,
                     "expect")
        for key, _knode, vnode in self.items(enode):
            if key == "counts":
                if not isinstance(edata["counts"], dict):
                    raise self.error(vnode, "'counts' in expect must be a mapping of function types to counts")
                for tk, tknode, tvnode in self.items(vnode):
                    try:
                        check_type(str(tk))
                    except NnsurgeonError as e:
                        raise self.error(tknode, f"'counts' in expect: {e}") from None
                    n = edata["counts"][tk]
                    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 10 ** 9:
                        raise self.error(tvnode, f"'counts' in expect: the count of {tk} must be an integer >= 0, "
                                                 f"not {n!r}")
            elif key == "compare":
                c = self.options(vnode, edata["compare"], spec.COMPARE, "expect.compare")
                if bool(c.input) == bool(c.random):
                    raise self.error(vnode, "expect.compare needs exactly one of 'input: DATA' or 'random: true'")
                for key in ("output-atol", "output-rtol"):
                    for name, value in (getattr(c, key.replace("-", "_")) or {}).items():
                        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                            raise self.error(vnode, f"expect.compare '{key}': the tolerance of '{name}' must be a "
                                                    f"number >= 0, not {value!r}")
        return dict(edata)


def plan_to_yaml(plan: Plan, model: Optional[str] = None, expect: Optional[Dict] = None,
                 recipe_path: Optional[str] = None) -> str:
    """The recipe text for ``plan``: the other direction of :func:`parse_recipe`. Paths (the model,
    calibration data) are written relative to ``recipe_path``'s folder, so the recipe applies from anywhere.

    Example::

        text = plan_to_yaml(Plan([Step("quantize", {"after": ["ReLU"]})]), model="m.nnp")
    """
    base = os.path.dirname(os.path.abspath(recipe_path)) if recipe_path else os.getcwd()

    def rel(path):
        return os.path.relpath(os.path.abspath(path), base)

    data: Dict = {"version": 1}
    if model:
        data["model"] = model if model.startswith("nnabla.models:") else rel(model)
    if plan.default_networks:
        data["networks"] = list(plan.default_networks)
    steps = []
    for step in plan.steps:
        p, opts = parse_step(step, plan.base_dir)  # the step's own options, not the plan's default networks
        options = given(p.options, opts)
        for o in p.options:
            if o.kind == "path" and o.key in options:
                options[o.key] = rel(options[o.key])
        steps.append({step.name: options})
    data["steps"] = steps
    if expect:
        data["expect"] = expect
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)

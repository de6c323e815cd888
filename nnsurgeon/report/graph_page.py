"""A network as a picture: function nodes (type, stable name, output shape; parameters in the tooltip),
quantizers as badges on the edges they cut, laid out top to bottom by Graphviz.

:func:`graph_data` turns one network into plain data (nodes, badges, edges, groups); :func:`to_dot` writes
the DOT text of a view of it; :func:`page` writes one self-contained HTML file that lays the DOT out in the
browser with Graphviz compiled to WebAssembly (``vendor/viz-global.js``, inlined), so the page works offline
from a file:// URL.

Quantizers: a ``MinMaxQuantize``, a ``QuantizeLinear`` followed by its ``DequantizeLinear`` (one badge for the
pair), or a lone ``QuantizeLinear`` / ``DequantizeLinear``. A badge says the bits, the range (static: stored
in the file; dynamic: each batch's min and max) and whether the scale is per channel.

Large graphs: above :data:`COLLAPSE_ABOVE` function nodes the main view shows one node per group and each
group opens on its own. Groups are name scopes (consecutive scopes share a group when there are more
than :data:`MAX_GROUPS`): a function's scope is the scope of its first parameter
(``conv1/conv/W`` -> ``conv1``), else of its stable name, else that of the function producing its first input
(so a ReLU joins its convolution); the top level of the scope names the group. Graphs whose functions carry
no scope are cut into consecutive runs in network order instead.
"""
import html
import json
import math
import os
from collections import OrderedDict
from typing import Dict, List, Optional

import numpy as np

COLLAPSE_ABOVE = 1500
MAX_GROUPS = 400
QUANTIZER_TYPES = ("MinMaxQuantize", "QuantizeLinear", "DequantizeLinear")
_VENDOR = os.path.join(os.path.dirname(__file__), "vendor", "viz-global.js")
_ASSETS = os.path.join(os.path.dirname(__file__), "assets")
_FAMILIES = [  # fill colour by what a function does, so the eye finds convolutions, activations, norms
    (("Convolution", "Deconvolution", "Affine", "BatchMatmul", "Embed"), "#dbeafe"),
    (("BatchNormalization", "LayerNormalization", "GroupNormalization", "InstanceNormalization"), "#fef3c7"),
    (("Pooling", "GlobalAverage"), "#ede9fe"),
    (("ReLU", "Sigmoid", "Tanh", "Swish", "GELU", "ELU", "SELU", "Softmax", "HardSigmoid", "HardTanh",
      "LeakyReLU", "ReLU6", "Mish", "PReLU"), "#dcfce7"),
]


def _fill(type_name: str) -> str:
    for names, colour in _FAMILIES:
        if any(n in type_name for n in names):
            return colour
    return "#f3f4f6"


def _shape(dims) -> List[int]:
    return [int(d) for d in dims]


def _jsonable(v):
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


def _dtype_levels(code: int):
    """QuantizeLinear's ``dtype`` (numpy's type number) -> (bits, qmin, qmax)."""
    for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32):
        if np.dtype(t).num == code:
            info = np.iinfo(t)
            return np.dtype(t).itemsize * 8, int(info.min), int(info.max)
    return None, None, None


def _param(model, name: str) -> Optional[np.ndarray]:
    p = model.parameters.get(name)
    return None if p is None else np.asarray(p.data, dtype=np.float64)


def graph_data(model, network) -> Dict:
    """One network as plain data: ``nodes`` (function nodes), ``badges`` (quantizers), ``edges``, ``inputs``,
    ``outputs`` and ``groups``. ``network`` is an :class:`nnsurgeon.graph.network.Network` view."""
    from ..graph.functions import function_args

    net = network
    functions = net.topological()
    order = {f.name: i for i, f in enumerate(functions)}
    pairs = {}  # QuantizeLinear name -> its DequantizeLinear
    for f in functions:
        if f.type == "QuantizeLinear":
            uses = net.consumers(f.output[0])
            if len(uses) == 1 and uses[0][0].type == "DequantizeLinear" and uses[0][1] == 0:
                pairs[f.name] = uses[0][0]
    in_pair = {d.name for d in pairs.values()}
    ids: Dict[str, str] = {}  # function name -> element id
    nodes, badges = [], []
    producer: Dict[str, str] = {}  # variable -> element id producing it, as drawn
    scope_of: Dict[str, str] = {}
    args_cache = {}

    def args_of(f):
        which = f.WhichOneof("parameter")  # functions with equal argument messages share one lookup
        key = (f.type, which, getattr(f, which).SerializeToString(deterministic=True) if which else b"")
        if key not in args_cache:
            try:
                args_cache[key] = {k: _jsonable(v) for k, v in function_args(f).items()}
            except Exception:  # a type this NNabla cannot instantiate: show what the file holds
                args_cache[key] = {}
        return dict(args_cache[key])

    for f in functions:
        if f.name in in_pair:
            continue
        params = [x for x in f.input if net.is_parameter(x)]
        if f.type in QUANTIZER_TYPES:
            members = [f] + ([pairs[f.name]] if f.name in pairs else [])
            bid = f"q{len(badges)}"
            for g in members:
                ids[g.name] = bid
            badges.append(_badge(model, net, bid, members, args_of))
            producer[members[-1].output[0]] = bid
            continue
        nid = f"n{len(nodes)}"
        ids[f.name] = nid
        scope = _scope(f, params, net, scope_of)
        scope_of[f.name] = scope
        outs = [{"name": y, "shape": _shape(net.variables[y].shape.dim) if y in net.variables else []}
                for y in f.output]
        nodes.append({
            "id": nid, "name": f.name, "type": f.type, "index": order[f.name], "scope": scope,
            "args": args_of(f),
            "inputs": [{"name": x, "shape": _shape(net.variables[x].shape.dim) if x in net.variables else []}
                       for x in f.input if not net.is_parameter(x)],
            "outputs": outs,
            "params": [{"name": p, "shape": _shape(net.variables[p].shape.dim),
                        "count": math.prod(net.variables[p].shape.dim)} for p in params],
        })
        for y in f.output:
            producer[y] = nid
    edges = []
    seen = set()
    inputs = net.inputs
    for f in functions:
        if f.name in in_pair:
            continue
        dst = ids[f.name]
        for x in f.input:
            if net.is_parameter(x):
                continue
            src = producer.get(x) or (f"in:{x}" if x in inputs else None)
            if src is None or src == dst or (src, dst) in seen:
                continue
            seen.add((src, dst))
            edges.append([src, dst])
    outputs = net.outputs
    for y in outputs:
        if y in producer:
            edges.append([producer[y], f"out:{y}"])
    scopes = {n["id"]: n["scope"] for n in nodes}
    incoming = {}
    for a, b in edges:
        incoming.setdefault(b, a)
    for b in badges:  # a badge belongs to the scope of the node it follows
        b["scope"] = scopes.get(incoming.get(b["id"]), "")
    return {"network": net.name, "nodes": nodes, "badges": badges, "edges": edges,
            "inputs": [{"name": x, "shape": _shape(net.variables[x].shape.dim)} for x in inputs],
            "outputs": [{"name": y, "shape": _shape(net.variables[y].shape.dim)} for y in outputs],
            "groups": _groups(nodes)}


def _scope(f, params, net, scope_of) -> str:
    if params:
        return params[0].rsplit("/", 1)[0] if "/" in params[0] else ""
    name = f.name[f.name.index("/") + 1:] if f.name.startswith("@") and "/" in f.name else f.name
    if "/" in name:
        return name.rsplit("/", 1)[0]
    for x in f.input:
        use = net.producer(x)
        if use is not None and use[0].name in scope_of:
            return scope_of[use[0].name]
    return ""


def _groups(nodes: List[dict]) -> Optional[List[dict]]:
    """None when the graph is small enough to draw whole; else groups of node ids (see the module doc)."""
    if len(nodes) <= COLLAPSE_ABOVE:
        return None
    by_scope: "OrderedDict[str, List[str]]" = OrderedDict()
    for n in nodes:
        by_scope.setdefault(n["scope"].split("/")[0], []).append(n["id"])
    if len(by_scope) >= 2 and "" not in by_scope:
        scopes = list(by_scope.items())
        k = math.ceil(len(scopes) / MAX_GROUPS)  # too many scopes: consecutive scopes share a group
        groups = []
        for i in range(0, len(scopes), k):
            part = scopes[i:i + k]
            name = part[0][0] if len(part) == 1 else f"{part[0][0]} … {part[-1][0]}"
            groups.append({"name": name, "kind": "scope", "members": [m for _, ms in part for m in ms]})
    else:
        size = math.ceil(len(nodes) / (MAX_GROUPS // 2))
        groups = [{"name": f"functions {i}-{min(i + size, len(nodes)) - 1}", "kind": "run",
                   "members": [n["id"] for n in nodes[i:i + size]]} for i in range(0, len(nodes), size)]
    for i, g in enumerate(groups):
        g["id"] = f"g{i}"
    return groups


def _badge(model, net, bid: str, members, args_of) -> dict:
    first = members[0]
    a = args_of(first)
    out = {"id": bid, "name": first.name, "type": "+".join(m.type for m in members),
           "functions": [m.name for m in members], "input": first.input[0], "output": members[-1].output[0],
           "args": {m.name: args_of(m) for m in members}, "bits": None, "range": None, "mode": "static",
           "per_channel": False,
           "params": [{"name": p, "shape": _shape(net.variables[p].shape.dim),
                       "count": math.prod(net.variables[p].shape.dim)}
                      for m in members for p in m.input if net.is_parameter(p)]}
    if first.type == "MinMaxQuantize":
        values = {key: _param(model, p) for key, p in zip(("qr_min", "qr_max", "ql_min", "ql_max"), first.input[1:])}
        if values.get("ql_min") is not None and values.get("ql_max") is not None:
            levels = float(values["ql_max"].max() - values["ql_min"].min()) + 1
            out["bits"] = int(round(math.log2(levels))) if levels > 1 else None
        out["mode"] = "dynamic" if a.get("x_min_max") else "static"
        if out["mode"] == "static" and values.get("qr_min") is not None:
            out["range"] = [float(values["qr_min"].min()), float(values["qr_max"].max())]
            out["per_channel"] = values["qr_min"].size > 1
    else:  # QuantizeLinear (+ DequantizeLinear) or a lone DequantizeLinear: x*scale, zero point
        q = next((m for m in members if m.type == "QuantizeLinear"), first)
        bits, qmin, qmax = _dtype_levels(int(args_of(q).get("dtype", 1)))
        scale = _param(model, q.input[1]) if len(q.input) > 1 else None
        zero = _param(model, q.input[2]) if len(q.input) > 2 else None
        out["bits"] = bits
        if scale is not None and qmin is not None:
            zp = zero if zero is not None else np.zeros_like(scale)
            lo, hi = (qmin - zp) * scale, (qmax - zp) * scale
            out["range"] = [float(np.minimum(lo, hi).min()), float(np.maximum(lo, hi).max())]
            out["per_channel"] = scale.size > 1
        elif scale is None:
            out["mode"] = "dynamic"
    return out


def badge_text(b: dict) -> str:
    bits = f"{b['bits']}b" if b.get("bits") else "?b"
    if b.get("range"):
        rng = f" [{b['range'][0]:.3g}, {b['range'][1]:.3g}]"
    else:
        rng = ""
    pc = " per-ch" if b.get("per_channel") else ""
    return f"Q {bits}{rng} {b['mode']}{pc}"


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _dq(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape_text(shape) -> str:
    """``N×4×8×8``: a batch axis stored as -1 (what NNabla saves for a free batch size) reads N."""
    return "×".join("N" if d < 0 else str(d) for d in shape) if shape else "scalar"


def _node_line(n: dict, style: Dict[str, dict]) -> str:
    s = style.get(n["id"], {})
    shape = ", ".join(_shape_text(o["shape"]) for o in n["outputs"])
    label = (f'<<table border="0" cellspacing="0" cellpadding="1"><tr><td><b>{_esc(n["type"])}</b></td></tr>'
             f'<tr><td><font point-size="9" color="#4b5563">{_esc(n["name"])}</font></td></tr>'
             f'<tr><td><font point-size="9" color="#6b7280">{_esc(shape)}</font></td></tr></table>>')
    params = "; ".join(f"{p['name']} {tuple(p['shape'])} = {p['count']:,}" for p in n["params"]) or "no parameters"
    tooltip = f"{n['type']} {n['name']}\n{params}"
    classes = " ".join(["fn"] + s.get("classes", []))
    attrs = [f"id={_dq(n['id'])}", f"class={_dq(classes)}", f"label={label}", f"tooltip={_dq(tooltip)}",
             f"fillcolor={_dq(s.get('fill', _fill(n['type'])))}"]
    if "pen" in s:
        attrs += [f"color={_dq(s['pen'])}", f"penwidth={s.get('penwidth', 2.5)}"]
    return f"  {_dq(n['id'])} [{', '.join(attrs)}];"


def _badge_line(b: dict) -> str:
    tooltip = f"{b['type']} {b['name']}: {badge_text(b)}"
    return (f"  {_dq(b['id'])} [id={_dq(b['id'])}, class=\"badge\", shape=box, style=\"rounded,filled\", "
            f"fillcolor=\"#fde68a\", color=\"#d97706\", fontsize=9, height=0.22, margin=\"0.06,0.02\", "
            f"label={_dq(badge_text(b))}, tooltip={_dq(tooltip)}];")


def _io_line(key: str, shape) -> str:
    kind, name = key.split(":", 1)
    return (f"  {_dq(key)} [id={_dq('io-' + kind + '-' + name)}, class=\"io\", shape=box, style=\"rounded,filled\", "
            f"fillcolor=\"#1f2937\", fontcolor=\"white\", fontsize=10, "
            f"label={_dq(('input ' if kind == 'in' else 'output ') + name + '  ' + _shape_text(shape))}];")


_HEAD = ('digraph G {\n  graph [rankdir=TB, nodesep=0.25, ranksep=0.32, bgcolor="transparent", '
         'fontname="Helvetica"];\n  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, '
         'color="#9ca3af", penwidth=1, margin="0.12,0.04"];\n  edge [color="#9ca3af", arrowsize=0.6];\n')


def _index(data: Dict) -> Dict:
    """Lookups every view needs, built once: elements by id, io shapes, edges by element, group owners."""
    shapes = {f"in:{x['name']}": x["shape"] for x in data["inputs"]}
    shapes.update({f"out:{y['name']}": y["shape"] for y in data["outputs"]})
    touching: Dict[str, List[int]] = {}
    incoming: Dict[str, str] = {}
    for i, (a, b) in enumerate(data["edges"]):
        touching.setdefault(a, []).append(i)
        touching.setdefault(b, []).append(i)
        incoming.setdefault(b, a)
    owner = {}
    for g in data.get("groups") or []:
        for m in g["members"]:
            owner[m] = g["id"]
    for b in data["badges"]:  # a badge belongs to the group of the node it follows
        src = incoming.get(b["id"])
        if data.get("groups"):
            owner[b["id"]] = owner.get(src, data["groups"][0]["id"])
    return {"nodes": {n["id"]: n for n in data["nodes"]}, "badges": {b["id"]: b for b in data["badges"]},
            "shapes": shapes, "touching": touching, "owner": owner}


def to_dot(data: Dict, style: Optional[Dict[str, dict]] = None, group: Optional[str] = None,
           collapsed: bool = False, index: Optional[Dict] = None) -> str:
    """DOT text of the whole graph, of the collapsed view (one node per group) or of one group (its
    functions and badges, with the nodes it connects to outside drawn as grey stubs).

    ``style`` maps element ids to {"fill", "pen", "penwidth", "classes"} (error colours, diff marks)."""
    style = style or {}
    ix = index or _index(data)
    lines = [_HEAD]
    shapes, nodes, badges = ix["shapes"], ix["nodes"], ix["badges"]
    if collapsed and data.get("groups"):
        owner = ix["owner"]
        quantizers: Dict[str, int] = {}
        for b in badges:
            quantizers[owner[b]] = quantizers.get(owner[b], 0) + 1
        for g in data["groups"]:
            types: Dict[str, int] = {}
            for m in g["members"]:
                types[nodes[m]["type"]] = types.get(nodes[m]["type"], 0) + 1
            top = ", ".join(f"{t}×{c}" for t, c in sorted(types.items(), key=lambda kv: -kv[1])[:3])
            q = quantizers.get(g["id"], 0)
            label = (f'<<table border="0" cellspacing="0" cellpadding="1"><tr><td><b>{_esc(g["name"])}</b></td></tr>'
                     f'<tr><td><font point-size="9" color="#4b5563">{len(g["members"])} functions'
                     f'{f", {q} quantizers" if q else ""}</font></td></tr>'
                     f'<tr><td><font point-size="8" color="#6b7280">{_esc(top)}</font></td></tr></table>>')
            s = style.get(g["id"], {})
            lines.append(f"  {_dq(g['id'])} [id={_dq(g['id'])}, class={_dq(' '.join(['group'] + s.get('classes', [])))}, "
                         f"label={label}, fillcolor={_dq(s.get('fill', '#e0e7ff'))}, "
                         f"tooltip={_dq(g['name'] + ': click to list, double-click to open')}];")
        for key, shape in shapes.items():
            lines.append(_io_line(key, shape))
        seen = set()
        for a, b in data["edges"]:
            a2, b2 = owner.get(a, a), owner.get(b, b)
            if a2 != b2 and (a2, b2) not in seen:
                seen.add((a2, b2))
                lines.append(f"  {_dq(a2)} -> {_dq(b2)};")
        lines.append("}\n")
        return "\n".join(lines)
    if group is None:
        keep = None
        edges = data["edges"]
        members = list(nodes) + list(badges)
    else:
        members = [m for m in next(g for g in data["groups"] if g["id"] == group)["members"]]
        members += [b for b in badges if ix["owner"].get(b) == group]
        keep = set(members)
        edges = [data["edges"][i] for i in sorted({i for m in members for i in ix["touching"].get(m, ())})]
    for m in members:
        lines.append(_node_line(nodes[m], style) if m in nodes else _badge_line(badges[m]))
    stubs = set()
    for a, b in edges:
        for end in (a, b):
            if end in stubs or (keep is None and end not in shapes) or (keep is not None and end in keep):
                continue
            stubs.add(end)
            if end in shapes:
                lines.append(_io_line(end, shapes[end]))
            else:
                ref = nodes.get(end) or badges.get(end) or {"name": end}
                lines.append(f"  {_dq(end)} [id={_dq('stub-' + end)}, class=\"stub\", fillcolor=\"#f9fafb\", "
                             f"fontcolor=\"#9ca3af\", color=\"#d1d5db\", style=\"rounded,filled,dashed\", "
                             f"fontsize=9, label={_dq(ref['name'])}];")
        lines.append(f"  {_dq(a)} -> {_dq(b)};")
    lines.append("}\n")
    return "\n".join(lines)


def read_asset(name: str) -> str:
    path = _VENDOR if name == "viz" else os.path.join(_ASSETS, name)
    with open(path, encoding="utf-8") as f:
        return f.read()


def _script_json(obj) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(obj, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")


def page(title: str, payload: Dict, views: Dict[str, str]) -> str:
    """One self-contained HTML page: the report's data, the DOT text of every view, the page's script and
    style, and Graphviz (WebAssembly) inlined. Nothing is fetched when it is opened."""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{_esc(title)}</title>\n"
            f"<style>{read_asset('report.css')}</style></head>\n<body>\n"
            f"<script type=\"application/json\" id=\"nns-data\">{_script_json(payload)}</script>\n"
            f"<script type=\"application/json\" id=\"nns-views\">{_script_json(views)}</script>\n"
            f"<script>{read_asset('viz')}</script>\n"
            f"<script>{read_asset('report.js')}</script>\n</body></html>\n")


def views_of(data: Dict, style: Optional[Dict[str, dict]] = None) -> Dict[str, str]:
    """{"main": DOT of the whole graph or of the collapsed view, group id: DOT of that group}."""
    ix = _index(data)
    if not data.get("groups"):
        return {"main": to_dot(data, style, index=ix)}
    views = {"main": to_dot(data, style, collapsed=True, index=ix)}
    for g in data["groups"]:
        views[g["id"]] = to_dot(data, style, group=g["id"], index=ix)
    return views


def element_count(data: Dict) -> Dict[str, int]:
    return {"functions": len(data["nodes"]) + sum(len(b["functions"]) for b in data["badges"]),
            "nodes": len(data["nodes"]), "badges": len(data["badges"])}


def svg_with_dot(dot_text: str, dot: str = "dot") -> bytes:
    """Lay ``dot_text`` out with the system's Graphviz ``dot`` (for ``draw --format svg``)."""
    import subprocess

    from ..errors import NnsurgeonError

    try:
        return subprocess.run([dot, "-Tsvg"], input=dot_text.encode(), capture_output=True, check=True,
                              timeout=600).stdout
    except FileNotFoundError:
        raise NnsurgeonError("an .svg needs Graphviz's 'dot' on PATH (apt-get install graphviz); "
                             "or write .html (laid out in the browser) or .dot") from None
    except subprocess.CalledProcessError as e:
        raise NnsurgeonError(f"Graphviz 'dot' failed: {e.stderr.decode(errors='replace').strip()[:300]}") from None

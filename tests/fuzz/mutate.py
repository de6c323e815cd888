"""Mutated files from the suite's own generated models, recipes and data: variant ``i`` of seed ``s`` is always
the same file, so any failure is reproduced by its number alone (``python -m tests.fuzz.campaign --only i``).

Families: ``byteflip`` and ``truncate`` (the whole .nnp), ``member`` (bytes of one member changed, the zip kept
valid), ``zip`` (member names, methods, flags, sizes, duplicates, bombs), ``nntxt`` (the definition edited:
arguments, shapes, types, wiring, batch size), ``h5`` (external storage, links, dtypes, attributes, shapes),
``protobuf`` (parameter lengths and shapes), ``recipe`` (bombs, tags, NUL bytes, flips of shipped recipes),
``data`` (truncated, flipped and bomb .npy/.npz given as input).
"""
import io
import os
import random
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from . import craft

MODELS = ["chain", "residual", "multi-output", "zoo"]
LAYOUTS = ["nntxt+h5", "protobuf+protobuf", "protobuf"]
FAMILIES = {"byteflip": 12, "truncate": 6, "member": 12, "zip": 14, "nntxt": 24, "h5": 12, "protobuf": 6,
            "recipe": 8, "data": 6}
ODD_INTS = [0, -1, -2, 1, 2, 3, 7, 1 << 31, 1 << 40, (1 << 63) - 1, -(1 << 63), 1 << 62]


@dataclass
class Variant:
    """One mutated input: ``files`` to write (name -> bytes) and the command line to run on them, where
    ``{in}`` is the folder holding the files and ``{out}`` an empty output folder."""

    number: int
    family: str
    what: str
    files: Dict[str, bytes]
    args: List[str] = field(default_factory=list)


class Seeds:
    """The unmutated inputs, built once per campaign: every example in every layout, data, recipes."""

    def __init__(self, folder: str):
        from nnsurgeon.examples import build_example

        self.models = {}
        for name in MODELS:
            for layout in LAYOUTS:
                path = os.path.join(folder, f"{name}-{layout.replace('+', '_')}.nnp")
                build_example(name, path, batch=2, seed=1, layout=layout)
                with open(path, "rb") as f:
                    self.models[(name, layout)] = f.read()
        buffer = io.BytesIO()
        np.save(buffer, np.random.RandomState(0).randn(3, 1, 8, 8).astype(np.float32))
        self.npy = buffer.getvalue()
        buffer = io.BytesIO()
        np.savez_compressed(buffer, x=np.random.RandomState(1).randn(3, 1, 8, 8).astype(np.float32))
        self.npz = buffer.getvalue()
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        recipes = os.path.join(root, "recipes")
        self.recipes = [open(os.path.join(recipes, n), encoding="utf-8").read() for n in sorted(os.listdir(recipes))
                        if n.endswith(".yaml")]


def variant(seeds: Seeds, seed: int, number: int) -> Variant:
    rng = random.Random(seed * 1_000_003 + number)
    family = rng.choices(list(FAMILIES), weights=list(FAMILIES.values()))[0]
    if family == "recipe":
        what, text = _recipe(rng, seeds)
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        command = rng.choice([["check", "{in}/r.yaml"],
                              ["apply", "{in}/r.yaml", "{in}/m.nnp", "-o", "{out}/a.nnp"]])
        return Variant(number, family, what, {"r.yaml": data, "m.nnp": seeds.models[("chain", "nntxt+h5")]},
                       command)
    if family == "data":
        what, name, data = _data(rng, seeds)
        command = rng.choice([["extract", "{in}/m.nnp", "--input", "{in}/" + name, "-o", "{out}/e.npz"],
                              ["quantize", "{in}/m.nnp", "--after", "ReLU", "--calibrate", "{in}/" + name,
                               "-o", "{out}/q.nnp"]])
        return Variant(number, family, what, {name: data, "m.nnp": seeds.models[("chain", "nntxt+h5")]}, command)
    name = rng.choice(MODELS)
    layout = {"nntxt": "nntxt+h5", "h5": "nntxt+h5", "protobuf": "protobuf+protobuf"}.get(family)
    layout = layout or rng.choice(LAYOUTS)
    original = seeds.models[(name, layout)]
    what, data = MUTATORS[family](rng, original)
    return Variant(number, family, f"{name} {layout}: {what}", {"m.nnp": data}, _model_command(rng))


def _model_command(rng):
    return rng.choices([
        ["info", "{in}/m.nnp"],
        ["list-layers", "{in}/m.nnp"],
        ["convert", "{in}/m.nnp", "-o", "{out}/c.nnp"],
        ["quantize", "{in}/m.nnp", "--after", "ReLU,Affine", "--allow-empty", "-o", "{out}/q.nnp"],
        ["extract", "{in}/m.nnp", "--random", "-o", "{out}/e.npz"],
    ], weights=[4, 3, 3, 1, 1])[0]


# -- whole-file mutations -------------------------------------------------------------------------------------
def _flip(rng, data: bytes, most: int = 8) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, most)):
        i = rng.randrange(len(out))
        out[i] = rng.choice([out[i] ^ (1 << rng.randrange(8)), rng.randrange(256), 0, 0xFF])
    return bytes(out)


def _byteflip(rng, data):
    return "bytes flipped", _flip(rng, data)


def _truncate(rng, data):
    at = rng.randrange(len(data))
    return f"truncated at {at}", data[:at]


def _member(rng, data):
    items = craft.members(_as_file(data))
    name = rng.choice(list(items))
    items[name] = _flip(rng, items[name], 4) if items[name] and rng.random() < 0.7 else \
        items[name][:rng.randrange(len(items[name]) + 1)]
    return f"member {name} changed", _zip_bytes(items)


def _as_file(data):
    return io.BytesIO(data)


def _zip_bytes(items) -> bytes:
    buffer = io.BytesIO()
    craft.write_zip(buffer, items)
    return buffer.getvalue()


# -- zip structure --------------------------------------------------------------------------------------------
def _zip(rng, data):
    entries = craft.nnp_entries(_as_file(data))
    e = rng.choice(entries)
    op = rng.choice(["method", "flags", "name", "name", "size", "crc", "duplicate", "drop", "bomb", "overlap",
                     "stored", "reorder"])
    if op == "method":
        e.method = rng.choice([1, 6, 9, 12, 14, 19, 95, 98, 99, 0xFFFF])
    elif op == "flags":
        e.flags = rng.choice([1, 0x41, 0x800, 0x2000, 0xFFFF])
    elif op == "name":
        e.name = rng.choice([b"", b"/", b"../" + e.name, b"/abs/" + e.name, b"a/../../" + e.name, e.name + b"\xff",
                             b"\xc3\x28" + e.name, b"C:\\" + e.name, e.name + b"\x00x", b"dir/" + e.name,
                             e.name.upper(), b"x" * 300])
        if rng.random() < 0.5:
            e.flags |= 0x800
    elif op == "size":
        e.size = rng.choice([0, 1, e.size // 2, e.size + 1, e.size * 1000, 0xFFFFFFFF])
    elif op == "crc":
        e.crc ^= 1 << rng.randrange(32)
    elif op == "duplicate":
        clone = craft.Entry(e.name, b"", payload=e.payload, crc=e.crc, size=e.size, method=e.method)
        if rng.random() < 0.5:
            clone.name = b"backup/" + e.name
        entries.insert(rng.randrange(len(entries) + 1), clone)
    elif op == "drop":
        entries.remove(e)
    elif op == "bomb":
        entries.append(craft.deflate_bomb_entry("zeros.bin", rng.choice([1 << 20, 70 << 20, 300 << 20])))
    elif op == "overlap":
        return f"zip {op}", craft.overlapping_bomb(entries, rng.randint(2, 50), rng.choice([1000, 100_000]))
    elif op == "stored":
        for x in entries:
            x.payload, x.method = _inflate(x.payload), 0
    elif op == "reorder":
        rng.shuffle(entries)
    return f"zip {op} on {e.name[:40]!r}", craft.raw_zip(entries)


def _inflate(payload):
    import zlib

    return zlib.decompress(payload, -15)


# -- the definition -------------------------------------------------------------------------------------------
def _nntxt(rng, data):
    from google.protobuf import text_format
    from nnabla.utils import nnabla_pb2

    items = craft.members(_as_file(data))
    proto = nnabla_pb2.NNablaProtoBuf()
    text_format.Merge(items["network.nntxt"].decode(), proto)
    what = _edit_definition(rng, proto)
    text = text_format.MessageToString(proto)
    if rng.random() < 0.15:  # a textual edit on top: a line dropped, doubled or a number replaced
        lines = text.splitlines()
        i = rng.randrange(len(lines))
        op = rng.choice(["drop", "double", "number"])
        if op == "drop":
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        else:
            lines[i] = "".join(str(rng.choice(ODD_INTS)) if c.isdigit() else c for c in lines[i])
        text = "\n".join(lines)
        what += f"; line {i} {op}"
    items["network.nntxt"] = text.encode()
    return what, _zip_bytes(items)


def _edit_definition(rng, proto) -> str:
    net = rng.choice(list(proto.network))
    functions, variables = list(net.function), list(net.variable)
    op = rng.choice(["arg", "arg", "arg", "dim", "dim", "vartype", "functype", "rewire", "rewire", "output",
                     "batch", "drop-function", "drop-variable", "param-field"])
    f = rng.choice(functions)
    if op == "arg":
        fields = [(n, d) for n, d in _param_fields(f)]
        if not fields:
            op = "dim"
        else:
            param, (name, descriptor) = _param_of(f), rng.choice(fields)
            _set_odd(rng, param, name, descriptor)
            return f"{f.name}.{name} set to {getattr(param, name)!s:.40}"
    if op == "dim":
        v = rng.choice(variables)
        if len(v.shape.dim):
            i = rng.randrange(len(v.shape.dim))
            v.shape.dim[i] = rng.choice(ODD_INTS + [-3])
        else:
            v.shape.dim.append(rng.choice(ODD_INTS))
        return f"variable {v.name} dim set: {list(v.shape.dim)}"
    if op == "vartype":
        v = rng.choice(variables)
        v.type = rng.choice(["Weird", "", "parameter", "Parameter", "Buffer"])
        return f"variable {v.name} type {v.type!r}"
    if op == "functype":
        from nnsurgeon.graph.functions import function_info

        f.type = rng.choice(sorted(function_info()) + ["NoSuch", ""])
        return f"function {f.name} type {f.type}"
    if op == "rewire":
        names = [v.name for v in variables]
        if f.input and rng.random() < 0.7:
            f.input[rng.randrange(len(f.input))] = rng.choice(names + [f.output[0], "nowhere"])
        elif f.input:
            del f.input[rng.randrange(len(f.input))]
        return f"function {f.name} inputs {list(f.input)}"
    if op == "output":
        g = rng.choice(functions)
        if rng.random() < 0.5:
            f.output.append(g.output[0])
        else:
            f.output[0] = g.output[0]
        return f"function {f.name} outputs {list(f.output)}"
    if op == "batch":
        net.batch_size = rng.choice(ODD_INTS)
        return f"batch size {net.batch_size}"
    if op == "drop-function":
        net.function.remove(f)
        return f"function {f.name} dropped"
    if op == "drop-variable":
        v = rng.choice(variables)
        net.variable.remove(v)
        return f"variable {v.name} dropped"
    field_name = rng.choice([d.name for d in type(f).DESCRIPTOR.oneofs_by_name["parameter"].fields])
    getattr(f, field_name).SetInParent()
    return f"function {f.name} holds {field_name}"


def _param_of(f):
    held = f.WhichOneof("parameter")
    return getattr(f, held) if held else None


def _param_fields(f):
    param = _param_of(f)
    return [] if param is None else [(d.name, d) for d in param.DESCRIPTOR.fields]


def _set_odd(rng, param, name, descriptor):
    from google.protobuf.descriptor import FieldDescriptor as FD

    value = getattr(param, name)
    if descriptor.message_type is not None and descriptor.message_type.name == "Shape":
        dims = list(value.dim) or [1, 1]
        dims[rng.randrange(len(dims))] = rng.choice(ODD_INTS)
        if rng.random() < 0.2:
            dims = dims[:-1] if rng.random() < 0.5 else dims + [1]
        del value.dim[:]
        value.dim.extend(dims)
    elif descriptor.label == FD.LABEL_REPEATED and descriptor.type in (FD.TYPE_INT64, FD.TYPE_INT32):
        del value[:]
        value.extend([rng.choice(ODD_INTS) for _ in range(rng.randint(0, 4))])
    elif descriptor.type in (FD.TYPE_INT64, FD.TYPE_INT32):
        setattr(param, name, rng.choice(ODD_INTS) if descriptor.type == FD.TYPE_INT64 else rng.choice([0, -1, 7]))
    elif descriptor.type in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        setattr(param, name, rng.choice([0.0, -1.0, float("nan"), float("inf"), 1e30, -1e-30]))
    elif descriptor.type == FD.TYPE_BOOL:
        setattr(param, name, not value)
    elif descriptor.type == FD.TYPE_STRING:
        setattr(param, name, rng.choice(["", "nonsense", "x" * 1000, "linear", "constant"]))


# -- parameters -----------------------------------------------------------------------------------------------
def _h5(rng, data):
    items = craft.members(_as_file(data))
    op = rng.choice(["external", "soft", "extlink", "dtype", "index", "need_grad", "shape", "extra", "group",
                     "delete", "big-endian", "scalar"])

    def edit(hd):
        name = craft.first_dataset(hd) if rng.random() < 0.3 else rng.choice(_datasets(hd))
        if op == "external":
            craft.replace_with_external(hd, rng.choice(["/etc/passwd", "/proc/self/environ", "/nonexistent"]))
        elif op in ("soft", "extlink"):
            craft.replace_with_link(hd, "soft" if op == "soft" else "external")
        elif op in ("dtype", "big-endian", "shape", "scalar"):
            old = hd[name]
            values, attrs = old[...], dict(old.attrs)
            del hd[name]
            if op == "dtype":
                kind = rng.choice(["complex64", "float64", "int8", "float16", "bool", "S4", "uint64", "complex128"])
                values = values.astype(kind) if kind != "S4" else values.astype("S4")
            elif op == "big-endian":
                values = values.astype(">f4")
            elif op == "shape":
                values = values.ravel()[:max(values.size - rng.randint(0, 3), 0)]
            else:
                values = np.float32(1.0)
            ds = hd.create_dataset(name, data=values)
            ds.attrs.update(attrs)
        elif op == "index":
            hd[name].attrs["index"] = rng.choice(["zero", 1.5, np.arange(3), -1, 1 << 40, b"\xff"])
        elif op == "need_grad":
            hd[name].attrs["need_grad"] = rng.choice(["yes", np.arange(2), 2.5])
        elif op == "extra":
            hd.create_dataset("extra/unused", data=np.zeros(4, np.float32))
        elif op == "group":
            hd.create_group("empty/group")
            hd["empty"].attrs["index"] = "x"
        elif op == "delete":
            del hd[name]

    try:
        items["parameter.h5"] = craft.h5_copy(items["parameter.h5"], edit)
    except (ValueError, TypeError, OSError):  # h5py refused to write this edit: fall back to a byte flip
        items["parameter.h5"] = _flip(rng, items["parameter.h5"])
        op += " (flipped instead)"
    return f"h5 {op}", _zip_bytes(items)


def _datasets(hd):
    import h5py

    names = []
    hd.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(names)


def _protobuf(rng, data):
    from nnabla.utils import nnabla_pb2

    items = craft.members(_as_file(data))
    proto = nnabla_pb2.NNablaProtoBuf()
    proto.ParseFromString(items["parameter.protobuf"])
    p = rng.choice(list(proto.parameter))
    op = rng.choice(["short", "long", "dims", "negative", "name", "empty"])
    if op == "short" and len(p.data):
        del p.data[-rng.randint(1, len(p.data)):]
    elif op == "long":
        p.data.extend([0.0] * rng.randint(1, 5))
    elif op == "dims":
        p.shape.dim.append(rng.choice([2, 0, 1 << 40]))
    elif op == "negative":
        p.shape.dim[0] = -p.shape.dim[0]
    elif op == "name":
        p.variable_name = rng.choice(["", "nowhere", proto.parameter[0].variable_name])
    else:
        del p.shape.dim[:]
    items["parameter.protobuf"] = proto.SerializeToString()
    return f"parameter {p.variable_name} {op}", _zip_bytes(items)


# -- recipes and data -----------------------------------------------------------------------------------------
def _recipe(rng, seeds):
    op = rng.choice(["laughs", "recursive", "deep", "steps", "flip", "flip", "nul", "tag", "truncate", "bytes"])
    if op == "laughs":
        return op, craft.billion_laughs(rng.randint(3, 12))
    if op == "recursive":
        return op, rng.choice([craft.recursive_alias(), "version: 1\nsteps: &a [*a]\n", "&x {a: *x}\n"])
    if op == "deep":
        depth = rng.choice([50, 70, 300, 500, 20_000])
        return op, craft.deep_nesting(depth) if rng.random() < 0.7 else "version: 1\nsteps: " + "[" * depth + "}"
    if op == "steps":
        return op, craft.many_steps(rng.choice([10, 1_001, 10_001, 100_000]), aliased=rng.random() < 0.5)
    text = rng.choice(seeds.recipes)
    if op == "flip":
        return op, _flip(rng, text.encode(), 6)
    if op == "nul":
        i = rng.randrange(len(text))
        return op, text[:i] + "\x00" + text[i:]
    if op == "tag":
        return op, text.replace("version: 1", rng.choice([
            "version: !!python/object/apply:os.system ['echo pwned']", "version: &v !!binary aGk=",
            "version: !!set {1: null}", "version: !custom 1"]), 1)
    if op == "truncate":
        return op, text[:rng.randrange(len(text))]
    return op, bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))


def _data(rng, seeds):
    op = rng.choice(["npy-truncate", "npy-flip", "npz-truncate", "npz-flip", "npz-bomb", "npy-header"])
    if op == "npy-truncate":
        return op, "d.npy", seeds.npy[:rng.randrange(len(seeds.npy))]
    if op == "npy-flip":
        return op, "d.npy", _flip(rng, seeds.npy[:200]) + seeds.npy[200:]
    if op == "npz-truncate":
        return op, "d.npz", seeds.npz[:rng.randrange(len(seeds.npz))]
    if op == "npz-flip":
        return op, "d.npz", _flip(rng, seeds.npz)
    if op == "npz-bomb":
        header = io.BytesIO()
        n = rng.choice([1 << 20, 400 << 20])
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                      "shape": (n // 256, 1, 8, 8)})
        return op, "d.npz", craft.raw_zip([craft.deflate_bomb_entry("x.npy", n, prefix=header.getvalue())])
    header = seeds.npy.replace(b"(3, 1, 8, 8)", rng.choice([b"(300000000000, 1, 8, 8)", b"(3, 1, 8, 9)",
                                                            b"(-3, 1, 8, 8)", b"(3,1,8,8,)"]))
    return op, "d.npy", header


MUTATORS = {"byteflip": _byteflip, "truncate": _truncate, "member": _member, "zip": _zip, "nntxt": _nntxt,
            "h5": _h5, "protobuf": _protobuf}

"""Crafted files, built byte by byte: zips whose headers say what a test wants (method, flags, names, sizes),
the overlapping-entries zip bomb, h5 parameter files with external storage, links and odd dtypes, and YAML
bombs. The regression tests and the fuzzer both use them."""
import io
import struct
import zipfile
import zlib
from collections import OrderedDict
from typing import Dict, List, Optional

import numpy as np


def members(path: str) -> "OrderedDict[str, bytes]":
    with zipfile.ZipFile(path) as zf:
        return OrderedDict((i.filename, zf.read(i)) for i in zf.infolist())


def write_zip(path, items: Dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in items.items():
            zf.writestr(name, data)
    return str(path)


class Entry:
    """One member of a raw zip: ``name`` as bytes, the stored bytes ``payload`` and what the headers declare."""

    def __init__(self, name, data: bytes, method: int = 8, flags: int = 0, crc: Optional[int] = None,
                 size: Optional[int] = None, payload: Optional[bytes] = None):
        self.name = name.encode("utf-8") if isinstance(name, str) else name
        if payload is None:
            payload = _deflate(data) if method == 8 else data
        self.payload = payload
        self.method, self.flags = method, flags
        self.crc = zlib.crc32(data) if crc is None else crc
        self.size = len(data) if size is None else size


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _local(e: Entry) -> bytes:
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, e.flags, e.method, 0, 0, e.crc, len(e.payload), e.size,
                       len(e.name), 0) + e.name


def _central(e: Entry, offset: int) -> bytes:
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, e.flags, e.method, 0, 0, e.crc, len(e.payload),
                       e.size, len(e.name), 0, 0, 0, 0, 0, offset) + e.name


def _end(count: int, size: int, offset: int) -> bytes:
    return struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, offset, 0)


def raw_zip(entries: List[Entry]) -> bytes:
    """A zip of ``entries`` exactly as declared (no check of what they claim)."""
    out = bytearray()
    offsets = []
    for e in entries:
        offsets.append(len(out))
        out += _local(e) + e.payload
    start = len(out)
    for e, o in zip(entries, offsets):
        out += _central(e, o)
    out += _end(len(entries), len(out) - start, start)
    return bytes(out)


def nnp_entries(path: str) -> List[Entry]:
    """The members of a real .nnp as raw entries (deflated), to edit and write back with :func:`raw_zip`."""
    return [Entry(name, data) for name, data in members(path).items()]


def overlapping_bomb(base: List[Entry], count: int, kernel_bytes: int) -> bytes:
    """``base`` followed by ``count`` entries that overlap (David Fifield's construction): entry i's deflate
    data quotes entry i+1's local header in a stored block and then *is* entry i+1's data, down to one shared
    kernel of ``kernel_bytes`` zeros. Each entry is a valid member; together they claim about
    ``count * kernel_bytes`` bytes from one small kernel."""
    kernel = _deflate(b"\0" * kernel_bytes)
    names = [f"junk/{i:04d}.bin".encode() for i in range(count)]
    plain_tail = b"\0" * kernel_bytes  # uncompressed content of the entry being built, from the back
    payload_tail = kernel
    headers: List[Entry] = [None] * count
    for i in reversed(range(count)):
        e = Entry(names[i], b"", method=8, payload=payload_tail, crc=zlib.crc32(plain_tail), size=len(plain_tail))
        headers[i] = e
        if i:
            header = _local(e)
            quote = struct.pack("<BHH", 0, len(header), len(header) ^ 0xFFFF)
            payload_tail = quote + header + payload_tail
            plain_tail = header + plain_tail
    out = bytearray()
    offsets = []
    for e in base:
        offsets.append(len(out))
        out += _local(e) + e.payload
    chain_start = len(out)
    out += _local(headers[0]) + headers[0].payload
    offset = chain_start
    chain_offsets = []
    for e in headers:
        chain_offsets.append(offset)
        offset += len(_local(e)) + 5  # the next local header starts after this one and a stored-block header
    start = len(out)
    for e, o in zip(base, offsets):
        out += _central(e, o)
    for e, o in zip(headers, chain_offsets):
        out += _central(e, o)
    out += _end(len(base) + count, len(out) - start, start)
    return bytes(out)


def deflate_bomb_entry(name: str, size: int, prefix: bytes = b"") -> Entry:
    """A member of ``prefix`` and ``size`` zero bytes, deflated (about a thousandth of its size)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (16 << 20)
    parts = [c.compress(prefix)]
    crc = zlib.crc32(prefix)
    left = size
    while left > 0:
        piece = chunk[:min(left, len(chunk))]
        parts.append(c.compress(piece))
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    parts.append(c.flush())
    return Entry(name, b"", method=8, payload=b"".join(parts), crc=crc, size=len(prefix) + size)


# -- h5 -------------------------------------------------------------------------------------------------------
def h5_bytes(build) -> bytes:
    """An .h5 file built by ``build(h5py.File)``, as bytes."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as hd:
        build(hd)
    return buffer.getvalue()


def h5_copy(data: bytes, edit) -> bytes:
    """The parameters of NNabla .h5 ``data`` rewritten, then ``edit(h5py.File)`` applied."""
    import h5py

    def build(out):
        with h5py.File(io.BytesIO(data), "r") as src:
            def copy(name, obj):
                if isinstance(obj, h5py.Dataset):
                    ds = out.create_dataset(name, data=obj[...])
                    for k, v in obj.attrs.items():
                        ds.attrs[k] = v
            src.visititems(copy)
        edit(out)

    return h5_bytes(build)


def first_dataset(hd) -> str:
    import h5py

    names = []
    hd.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(names, key=lambda n: int(hd[n].attrs.get("index", 0)))[0]


def replace_with_external(hd, target: str = "/etc/passwd"):
    """Replace the first parameter by a dataset of the same shape whose bytes come from ``target``."""
    name = first_dataset(hd)
    old = hd[name]
    shape, attrs = old.shape, dict(old.attrs)
    del hd[name]
    ds = hd.create_dataset(name, shape=shape, dtype=np.float32, external=[(target, 0, int(np.prod(shape)) * 4)])
    for k, v in attrs.items():
        ds.attrs[k] = v


def replace_with_link(hd, kind: str):
    import h5py

    name = first_dataset(hd)
    del hd[name]
    hd["elsewhere/data"] = np.zeros(3, np.float32)
    hd[name] = h5py.SoftLink("/elsewhere/data") if kind == "soft" else h5py.ExternalLink("/etc/passwd", "/x")


# -- YAML -----------------------------------------------------------------------------------------------------
def billion_laughs(levels: int = 9) -> str:
    lines = ["version: 1", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("steps:\n- quantize:\n    after: *a%d" % (levels - 1))
    return "\n".join(lines) + "\n"


def recursive_alias() -> str:
    return "version: 1\nsteps: &s\n- quantize: {after: *s}\n"


def deep_nesting(depth: int = 5000) -> str:
    return "version: 1\nsteps: " + "[" * depth + "]" * depth + "\n"


def many_steps(count: int = 100_000, aliased: bool = False) -> str:
    if aliased:
        return "version: 1\nstep: &s {quantize: {after: ReLU}}\nsteps: [" + ", ".join(["*s"] * count) + "]\n"
    return "version: 1\nsteps:\n" + "- quantize: {after: ReLU}\n" * count

"""Pictures of activations, drawn with Pillow in matplotlib's ``viridis`` colour map.

One picture per layer and sample:

- 3-D values (C, H, W): a grid of tiles, one per channel (the first ``max_channels``), in channel order,
  ``ceil(sqrt(C))`` tiles per row. Each tile is enlarged by the integer factor ``ceil(32 / max(H, W))``
  (nearest neighbour), so its longer side is at least 32 pixels, and carries its channel number above it.
  Tiles are separated by white gaps (viridis has no white, so a gap never looks like an activation).
- 1-D values (F,): one 32x32 cell per value; above ``max_channels`` values only the top-k by value are drawn,
  largest first, each labelled with its index (``#417``), so a 1000-class output stays readable.
- 2-D values (C, L): one row of L cells per channel (the first ``max_channels``).

Normalisation: ``"channel"`` maps each tile's own minimum to the dark end and its maximum to the bright end
(shows structure in every channel); ``"layer"`` uses the layer's minimum and maximum for every tile (shows
dead and saturated channels). Values of 1-D outputs are always normalised per layer. A constant tile is drawn
in the dark end. Under every picture: a colour bar with the value range it stands for.

:func:`write_featuremaps` writes one folder per sample (``sample-000/``...) with files named
``<index>_<name>.<channel|layer>.png``: the zero-padded index is the layer's position in the network (inputs
first), so file browsers list them in network order, and ``index.html`` shows model, network, samples and
every layer with a switch between the two normalisations.
"""
import html
import io
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import DataError

MIN_TILE = 32          # the longer side of a tile is at least this many pixels
GAP = 4                # white pixels between tiles
LABEL_H = 13           # pixels above each tile for its channel number
BAR_H = 12             # colour bar height
WHITE = (255, 255, 255)
TEXT = (40, 40, 40)
NORMALISATIONS = ("channel", "layer")


def colour_lut(name: str = "viridis") -> np.ndarray:
    """(256, 3) uint8 lookup table from matplotlib's colour map ``name``."""
    from matplotlib import colormaps

    return np.round(colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)


def _font(size: int = 10):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _scale(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values -> 0..255 indices; ``hi <= lo`` (a constant) gives 0."""
    if not hi > lo:
        return np.zeros(a.shape, np.uint8)
    return np.clip(np.round((a - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def _finite(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return np.nan_to_num(a, nan=0.0, posinf=np.finfo(np.float32).max, neginf=np.finfo(np.float32).min)


def tiles_of(a: np.ndarray, max_channels: int = 64) -> Tuple[List[np.ndarray], List[str], bool]:
    """One sample's value -> (2-D tiles, their labels, whether tiles must share the layer's normalisation).

    Raises DataError for values with more than 3 dimensions (per sample)."""
    a = _finite(a)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim == 1:
        if a.size > max_channels:
            order = np.argsort(-a, kind="stable")[:max_channels]  # top-k by value, largest first
            return [a[i].reshape(1, 1) for i in order], [f"#{i}" for i in order], True
        return [a[i].reshape(1, 1) for i in range(a.size)], [f"#{i}" for i in range(a.size)], True
    if a.ndim == 2:
        return [a[i][None, :] for i in range(min(a.shape[0], max_channels))], \
            [str(i) for i in range(min(a.shape[0], max_channels))], False
    if a.ndim == 3:
        return [a[i] for i in range(min(a.shape[0], max_channels))], \
            [str(i) for i in range(min(a.shape[0], max_channels))], False
    raise DataError(f"cannot draw a value of shape {a.shape} per sample (1-, 2- or 3-D only)")


def draw(a: np.ndarray, max_channels: int = 64, norm: str = "channel", lut: Optional[np.ndarray] = None,
         labels: bool = True, colour_bar: bool = True):
    """One sample's value (without the batch axis) -> a PIL RGB image as described in the module doc.

    Example::

        draw(np.random.rand(16, 7, 7), norm="layer").save("conv1.png")
    """
    from PIL import Image, ImageDraw

    if norm not in NORMALISATIONS:
        raise DataError(f"normalisation '{norm}': choose one of {', '.join(NORMALISATIONS)}")
    lut = colour_lut() if lut is None else lut
    tiles, names, shared = tiles_of(a, max_channels)
    full = _finite(a)
    layer_lo, layer_hi = float(full.min()), float(full.max())
    h, w = tiles[0].shape
    zoom = max(1, math.ceil(MIN_TILE / max(h, w)))
    th, tw = h * zoom, w * zoom
    font = _font(10)
    label_w = max(font.getlength(n) for n in names) + 4 if labels else 0
    cell_w = int(max(tw, label_w))
    per_row = min(16, len(tiles)) if h == 1 and w == 1 else max(1, math.ceil(math.sqrt(len(tiles))))
    if h == 1 and w > 1:  # rows of cells: one per row
        per_row = 1
    rows = math.ceil(len(tiles) / per_row)
    lab = LABEL_H if labels else 0
    grid_w = per_row * cell_w + (per_row + 1) * GAP
    grid_h = rows * (th + lab) + (rows + 1) * GAP
    bar_block = (BAR_H + 18) if colour_bar else 0
    width = max(grid_w, 220 if colour_bar else 0)
    im = Image.new("RGB", (width, grid_h + bar_block), WHITE)
    d = ImageDraw.Draw(im)
    for k, (t, name) in enumerate(zip(tiles, names)):
        r, c = divmod(k, per_row)
        x0 = GAP + c * (cell_w + GAP)
        y0 = GAP + r * (th + lab + GAP)
        lo, hi = (layer_lo, layer_hi) if shared or norm == "layer" else (float(t.min()), float(t.max()))
        rgb = lut[np.kron(_scale(t, lo, hi), np.ones((zoom, zoom), np.uint8))]
        im.paste(Image.fromarray(rgb, "RGB"), (x0 + (cell_w - tw) // 2, y0 + lab))
        if labels:
            d.text((x0 + cell_w / 2, y0 + lab - 1), name, fill=TEXT, font=font, anchor="mb")
    if colour_bar:
        y = grid_h + 2
        bar_w = min(width - 2 * GAP, 256)
        ramp = lut[np.linspace(0, 255, bar_w).astype(np.uint8)][None, :, :].repeat(BAR_H, 0)
        im.paste(Image.fromarray(ramp, "RGB"), (GAP, y))
        if norm == "layer" or shared:
            left, right = f"{layer_lo:.4g}", f"{layer_hi:.4g}"
        else:
            left, right = "tile min", "tile max"
        d.text((GAP, y + BAR_H + 2), left, fill=TEXT, font=font, anchor="lt")
        d.text((GAP + bar_w, y + BAR_H + 2), right, fill=TEXT, font=font, anchor="rt")
    return im


def draw_input(a: np.ndarray, max_channels: int = 64):
    """A network input as a picture: (3, H, W) in RGB and (1, H, W) in grey, stretched to 0..255 and enlarged
    so the longer side is at least 128 pixels; anything else as :func:`draw` draws it."""
    from PIL import Image

    a = _finite(a)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        img = _scale(a, float(a.min()), float(a.max())).transpose(1, 2, 0)
        zoom = max(1, math.ceil(128 / max(a.shape[1:])))
        img = np.kron(img, np.ones((zoom, zoom, 1), np.uint8))
        return Image.fromarray(img[:, :, 0] if a.shape[0] == 1 else img, "L" if a.shape[0] == 1 else "RGB")
    return draw(a, max_channels, "layer")


def thumbnail_png(a: np.ndarray, max_channels: int = 16, size: int = 200) -> bytes:
    """A small PNG of one sample's value (first channels, per-channel normalisation, no labels), for pages."""
    im = draw(a, max_channels, "channel", labels=False, colour_bar=False)
    im.thumbnail((size, size))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def file_stem(index: int, key: str, width: int) -> str:
    """``<index>_<key>`` with the index zero-padded to ``width`` and the key made file-safe."""
    safe = "".join(ch if ch.isalnum() or ch in ".-_" else "_" for ch in key).strip("_.") or "layer"
    return f"{index:0{width}d}_{safe}"


def write_featuremaps(folder: str, samples: Sequence[Tuple[int, Dict[str, np.ndarray]]],
                      inputs: Sequence[str] = (), max_channels: int = 64, norm: str = "channel",
                      title: Optional[Dict[str, str]] = None) -> List[dict]:
    """Draw every value of every sample into ``folder`` (which exists) and write ``index.html``.

    ``samples`` are (sample number, {key: value without the batch axis}) in the order to show, keys in network
    order; ``inputs`` are the keys that are network inputs (drawn first, as pictures). ``title`` adds lines
    such as model and network to the page. Returns one dict per key: key, shape, files per sample."""
    if norm not in NORMALISATIONS:
        raise DataError(f"--normalize '{norm}': choose one of {', '.join(NORMALISATIONS)}")
    lut = colour_lut()
    keys = [k for k in inputs if k in samples[0][1]] + [k for k in samples[0][1] if k not in inputs]
    width = max(3, len(str(len(keys) - 1)))
    stems = {}
    taken = set()
    for i, k in enumerate(keys):
        stem = file_stem(i, k, width)
        while stem.lower() in taken:
            stem += "_"
        taken.add(stem.lower())
        stems[k] = stem
    drawn = [{"key": k, "input": k in inputs, "shape": list(np.shape(samples[0][1][k])), "files": {},
              "range": {}} for k in keys]
    for number, values in samples:
        sub = f"sample-{number:03d}"
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        for entry in drawn:
            a = values[entry["key"]]
            arr = _finite(a)
            entry["range"][number] = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
            if entry["input"]:
                name = f"{sub}/{stems[entry['key']]}.png"
                draw_input(arr, max_channels).save(os.path.join(folder, name))
                entry["files"][number] = {n: name for n in NORMALISATIONS}
                continue
            try:
                tiles_of(arr, max_channels)
            except DataError:
                entry["files"][number] = None
                continue
            entry["files"][number] = {}
            for n in NORMALISATIONS:
                name = f"{sub}/{stems[entry['key']]}.{n}.png"
                draw(arr, max_channels, n, lut).save(os.path.join(folder, name))
                entry["files"][number][n] = name
    with open(os.path.join(folder, "index.html"), "w", encoding="utf-8") as f:
        f.write(_index_html(drawn, [n for n, _ in samples], norm, title or {}))
    return drawn


_PAGE_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2937;color:#fff;padding:14px 24px}header h1{font-size:18px;margin:0 0 4px}
header dl{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0;font-size:13px;opacity:.9}
header dt{font-weight:600;display:inline}header dd{display:inline;margin:0 0 0 6px}
.switch{padding:10px 24px;background:#fff;border-bottom:1px solid #ddd}.switch label{margin-right:16px}
table{border-collapse:collapse;margin:12px 24px}td,th{padding:8px 10px;vertical-align:top;text-align:left;
border-bottom:1px solid #e3e5e8}th{font-size:12px;text-transform:uppercase;color:#666}
td.name{font-family:ui-monospace,monospace;font-size:12px;min-width:180px;max-width:280px;overflow-wrap:anywhere}
td.meta{font-size:12px;color:#555;white-space:nowrap}img{image-rendering:pixelated;max-width:720px;
background:#fff;border:1px solid #e3e5e8}.range{font-size:11px;color:#666;font-family:ui-monospace,monospace}
"""

_PAGE_JS = """
document.querySelectorAll('input[name=norm]').forEach(function(r){r.addEventListener('change',function(){
  var n=this.value;document.querySelectorAll('img[data-channel]').forEach(function(i){i.src=i.dataset[n];});});});
"""


def _index_html(drawn: List[dict], numbers: List[int], norm: str, title: Dict[str, str]) -> str:
    e = html.escape
    meta = "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in title.items())
    meta += f"<dt>samples</dt><dd>{e(', '.join(str(n) for n in numbers))}</dd>"
    heads = "".join(f"<th>sample {n}</th>" for n in numbers)
    rows = []
    for i, d in enumerate(drawn):
        cells = []
        for n in numbers:
            files = d["files"].get(n)
            lo, hi = d["range"][n]
            rng = f"<div class=range>[{lo:.4g}, {hi:.4g}]</div>"
            if files is None:
                cells.append(f"<td>(not drawn: {len(d['shape'])}-D per sample){rng}</td>")
            elif d["input"]:
                cells.append(f"<td><img src=\"{e(files['channel'])}\" alt=\"{e(d['key'])}\">{rng}</td>")
            else:
                cells.append(f"<td><img src=\"{e(files[norm])}\" data-channel=\"{e(files['channel'])}\" "
                             f"data-layer=\"{e(files['layer'])}\" alt=\"{e(d['key'])}\">{rng}</td>")
        kind = "input" if d["input"] else ""
        rows.append(f"<tr><td class=meta>{i}</td><td class=name>{e(d['key'])}<div class=range>{kind}</div></td>"
                    f"<td class=meta>{e(str(tuple(d['shape'])))}</td>{''.join(cells)}</tr>")
    checked = {n: " checked" if n == norm else "" for n in NORMALISATIONS}
    return ("<!doctype html><html lang=en><meta charset=\"utf-8\"><title>nnsurgeon feature maps</title>\n"
            f"<style>{_PAGE_CSS}</style>\n<header><h1>Feature maps</h1><dl>{meta}</dl></header>\n"
            "<div class=switch>Normalise: "
            f"<label><input type=radio name=norm value=channel{checked['channel']}> per channel "
            "(each tile its own min..max)</label>"
            f"<label><input type=radio name=norm value=layer{checked['layer']}> per layer "
            "(shared range: dead channels show)</label></div>\n"
            f"<table><tr><th>#</th><th>layer</th><th>shape</th>{heads}</tr>\n" + "\n".join(rows) +
            f"\n</table>\n<script>{_PAGE_JS}</script>\n</html>\n")


def load_npz(path: str) -> Tuple[Dict[str, np.ndarray], int]:
    """Arrays from ``path`` (an .npz of (N, ...) arrays keyed by layer, in the file's order, as written by
    ``extract`` or ``numpy.savez`` from any framework) and the number of samples they share."""
    import zipfile

    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file; give an .npz written by 'nnsurgeon extract' or numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: cannot read as .npz of numeric arrays ({e})") from None
    if not arrays:
        raise DataError(f"{path}: holds no arrays")
    for k, a in arrays.items():
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
            raise DataError(f"{path}: array '{k}' has dtype {a.dtype}; feature maps need numbers")
        if a.ndim < 2:
            raise DataError(f"{path}: array '{k}' has shape {a.shape}; give (N, ...) arrays with the samples first")
    return arrays, min(a.shape[0] for a in arrays.values())

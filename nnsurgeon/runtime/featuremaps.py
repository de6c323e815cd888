"""Pictures of activations, written with Pillow.

- 4-D outputs (N, C, H, W): one PNG per layer, a grid of tiles, one tile per channel (the first
  ``max_channels``), ``ceil(sqrt(C))`` tiles per row, in channel order, each tile normalised on its own
  channel: its minimum is black, its maximum white; a constant channel is uniform black. Tiles are enlarged
  by an integer factor so that the longer side is at least 32 pixels, and separated by 1-pixel gray lines.
- 2-D outputs (N, F): a strip of F cells (8x32 pixels each, up to ``max_channels * 16`` cells), normalised
  over the vector the same way.
- 3-D outputs (N, C, L): C rows of L cells, each row normalised on its own.
Only the first sample (``sample``) is drawn. ``index.html`` lists every layer with its shape and picture.
"""
import html
import math
import os
from typing import Dict, List

import numpy as np

GAP = 1
GAP_VALUE = 96


def _normalise(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.round((a - lo) / (hi - lo) * 255.0).astype(np.uint8)


def tile_grid(x: np.ndarray, max_channels: int = 64) -> np.ndarray:
    """(C, H, W) -> a uint8 grid image as described in the module doc."""
    c = min(x.shape[0], max_channels)
    h, w = x.shape[1], x.shape[2]
    zoom = max(1, 32 // max(h, w))
    cols = math.ceil(math.sqrt(c))
    rows = math.ceil(c / cols)
    th, tw = h * zoom, w * zoom
    grid = np.full((rows * th + (rows - 1) * GAP, cols * tw + (cols - 1) * GAP), GAP_VALUE, np.uint8)
    for i in range(c):
        r, q = divmod(i, cols)
        tile = np.kron(_normalise(x[i]), np.ones((zoom, zoom), np.uint8))
        grid[r * (th + GAP): r * (th + GAP) + th, q * (tw + GAP): q * (tw + GAP) + tw] = tile
    return grid


def strip(v: np.ndarray, max_cells: int = 1024, cell=(32, 8)) -> np.ndarray:
    """(F,) -> a uint8 strip image; (C, L) -> C strips stacked."""
    rows = v[None, :] if v.ndim == 1 else v
    rows = rows[:, :max_cells]
    out = np.concatenate([np.kron(_normalise(r)[None, :], np.ones(cell, np.uint8)) for r in rows], axis=0)
    return out


def write_featuremaps(values: Dict[str, np.ndarray], folder: str, sample: int = 0,
                     max_channels: int = 64) -> List[dict]:
    """Write one PNG per drawable layer and index.html into ``folder`` (which exists); return what was drawn."""
    from PIL import Image

    from .extract import _file_names

    names = _file_names(list(values))
    drawn = []
    for key, arr in values.items():
        a = np.asarray(arr[sample], dtype=np.float32)
        if a.ndim == 3:
            image = tile_grid(a, max_channels)
        elif a.ndim in (1, 2):
            image = strip(a, max_cells=max_channels * 16)
        else:
            drawn.append({"key": key, "shape": list(arr.shape), "file": None})
            continue
        file = names[key][:-4] + ".png"
        Image.fromarray(image, mode="L").save(os.path.join(folder, file))
        drawn.append({"key": key, "shape": list(arr.shape), "file": file})
    rows = "\n".join(
        f"<tr><td>{html.escape(d['key'])}</td><td>{tuple(d['shape'])}</td><td>"
        + (f"<img src=\"{html.escape(d['file'])}\" alt=\"{html.escape(d['key'])}\">" if d["file"] else
           "(not drawn: not 2-, 3- or 4-D)") + "</td></tr>" for d in drawn)
    with open(os.path.join(folder, "index.html"), "w") as f:
        f.write("<!doctype html><meta charset=\"utf-8\"><title>nnsurgeon featuremaps</title>\n"
                "<style>img{image-rendering:pixelated;max-width:100%}td{vertical-align:top;padding:4px}</style>\n"
                "<table><tr><th>layer</th><th>shape</th><th>picture</th></tr>\n" + rows + "\n</table>\n")
    return drawn

"""Images as network input: decoded with Pillow, checked against the input's (C, H, W), optionally resized,
scaled and normalised: ``x = (pixels * scale - mean) / std`` per channel, layout NCHW."""
import os
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import DataError, opt, render

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_CHANNELS = {"1": 1, "L": 1, "P": 3, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4, "I": 1, "F": 1, "I;16": 1}


def is_image_input(path: str) -> bool:
    if os.path.isdir(path):
        return any(f.lower().endswith(IMAGE_EXTENSIONS) for f in os.listdir(path))
    return path.lower().endswith(IMAGE_EXTENSIONS)


class ImageSource:
    """Images from a file or a folder (sorted by name) for a one-input network taking (C, H, W).

    Example::

        src = ImageSource("cat.png", {"x": (3, 224, 224)}, size=(224, 224), scale=1 / 255)
    """

    def __init__(self, path: str, shapes: Dict[str, Tuple[int, ...]], size: Optional[Tuple[int, int]] = None,
                 scale: float = 1.0, mean: Sequence[float] = (), std: Sequence[float] = ()):
        if len(shapes) != 1:
            raise DataError(f"{path}: images feed one-input networks only; this network has inputs "
                            f"{', '.join(shapes)}: give an .npz keyed by input name")
        self.name, self.shape = next(iter(shapes.items()))
        if len(self.shape) != 3:
            raise DataError(f"{path}: network input '{self.name}' takes {self.shape}, not images (C, H, W); "
                            "give a .npy or .npz instead")
        if os.path.isdir(path):
            self.files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
        elif os.path.exists(path):
            self.files = [path]
        else:
            raise DataError(f"{path}: no such file or folder")
        if not self.files:
            raise DataError(f"{path}: folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        self.size, self.scale = size, scale
        c = self.shape[0]
        self.mean = _per_channel(mean, c, 0.0, opt("mean"))
        self.std = _per_channel(std, c, 1.0, opt("std"))
        if (self.std == 0).any():
            raise DataError(f"{opt('std')} must not contain 0")
        self.count = len(self.files)
        lo = float(((0 * scale - self.mean) / self.std).min())
        hi = float(((255 * scale - self.mean) / self.std).max())
        lo, hi = min(lo, hi), max(lo, hi)
        self.notes: List[str] = [f"{path}: 8-bit pixels (0-255) converted to float32 as (pixels * {scale:g} - mean) / "
                                 f"std: values in [{lo:.4g}, {hi:.4g}]" + (render(f" (add {opt('scale', '0.00392')} for 0-1)")
                                                                         if scale == 1 and not len(mean) else "")]

    def load(self, path: str) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                im.load()
                mode = im.mode
                channels = _CHANNELS.get(mode, len(im.getbands()))
                if mode == "P":
                    im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                    channels = len(im.getbands())
                c, h, w = self.shape
                if channels != c:
                    raise DataError(
                        f"{path}: image has {channels} channel(s) ({mode}), network input '{self.name}' takes {c}; "
                        f"convert the image to {'grayscale' if c == 1 else 'RGB' if c == 3 else f'{c} channels'}")
                if self.size:
                    im = im.resize((self.size[1], self.size[0]), Image.BILINEAR)
                if im.size != (w, h):
                    raise DataError(f"{path}: image is {im.size[1]}x{im.size[0]}, network input '{self.name}' takes "
                                    f"{h}x{w}; add {opt('size', f'{h}x{w}')}")
                arr = np.asarray(im, dtype=np.float32)
        except DataError:
            raise
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path}: cannot read as an image ({e})") from None
        arr = arr.reshape(h, w, -1).transpose(2, 0, 1)
        return (arr * self.scale - self.mean[:, None, None]) / self.std[:, None, None]

    def batches(self, batch_size: int, max_batches: Optional[int] = None) -> Iterator[Dict[str, np.ndarray]]:
        for i, start in enumerate(range(0, self.count, batch_size)):
            if max_batches is not None and i >= max_batches:
                return
            files: List[str] = self.files[start:start + batch_size]
            yield {self.name: np.stack([self.load(f) for f in files]).astype(np.float32)}


def _per_channel(values: Sequence[float], channels: int, default: float, option: str) -> np.ndarray:
    values = list(values)
    if not values:
        return np.full(channels, default, np.float32)
    if len(values) == 1:
        return np.full(channels, values[0], np.float32)
    if len(values) != channels:
        raise DataError(f"{option} has {len(values)} values; the input has {channels} channels (give 1 or {channels})")
    return np.asarray(values, np.float32)


def parse_size(text: Optional[str]) -> Optional[Tuple[int, int]]:
    """``"224x224"`` or ``"224"`` -> (224, 224)."""
    if not text:
        return None
    parts = text.lower().replace(",", "x").split("x")
    try:
        dims = [int(p) for p in parts if p]
    except ValueError:
        raise DataError(f"{opt('size')} '{text}': give HEIGHTxWIDTH, e.g. 224x224") from None
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) < 1:
        raise DataError(f"{opt('size')} '{text}': give HEIGHTxWIDTH, e.g. 224x224")
    return dims[0], dims[1]

"""Pretrained models of ``nnabla.models``, named ``nnabla.models:CATEGORY/NAME`` (e.g.
``nnabla.models:imagenet/MobileNet``).

The file is looked up where NNabla's own model classes cache it (``<data home>/nnp_models/CATEGORY/FILE``,
data home ``~/nnabla_data``); when it is not there it is downloaded with NNabla's downloader from
``NNABLA_MODELS_URL_BASE`` (or nnabla.org). The table below is the same data the ``nnabla.models`` classes
pass to their ``_load_nnp``: an explicit registry, so a name from a file or a recipe never imports anything.
"""
import difflib
import os
from typing import Dict, NamedTuple

from ..errors import ModelError

PREFIX = "nnabla.models:"


class PretrainedEntry(NamedTuple):
    category: str
    file: str  # cached file, relative to <model home>/<category>/
    url: str  # relative to <url base>/<category>/
    description: str


def _imagenet(name: str, stem: str, description: str, cache_stem: str = "") -> PretrainedEntry:
    return PretrainedEntry("imagenet", f"{cache_stem or stem}.nnp", f"{stem}/{stem}.nnp", description)


REGISTRY: Dict[str, PretrainedEntry] = {
    "imagenet/AlexNet": _imagenet("AlexNet", "AlexNet", "AlexNet, ImageNet classifier"),
    "imagenet/DenseNet-161": _imagenet("DenseNet", "DenseNet-161", "DenseNet-161, ImageNet classifier"),
    "imagenet/GoogLeNet": _imagenet("GoogLeNet", "GoogLeNet", "GoogLeNet, ImageNet classifier"),
    "imagenet/Inception-v3": _imagenet("InceptionV3", "Inception-v3", "Inception v3, ImageNet classifier"),
    "imagenet/MobileNet": _imagenet("MobileNet", "MobileNet", "MobileNet v1, ImageNet classifier"),
    "imagenet/MobileNet-v2": _imagenet("MobileNetV2", "MobileNet-v2", "MobileNet v2, ImageNet classifier"),
    "imagenet/NIN": _imagenet("NIN", "NIN", "Network in Network, ImageNet classifier"),
    "imagenet/ResNeXt-50": _imagenet("ResNeXt50", "ResNeXt-50", "ResNeXt-50, ImageNet classifier"),
    "imagenet/ResNeXt-101": _imagenet("ResNeXt101", "ResNeXt-101", "ResNeXt-101, ImageNet classifier"),
    "imagenet/ResNet-18": _imagenet("ResNet18", "Resnet-18", "ResNet-18, ImageNet classifier"),
    "imagenet/ResNet-34": _imagenet("ResNet34", "Resnet-34", "ResNet-34, ImageNet classifier"),
    "imagenet/ResNet-50": _imagenet("ResNet50", "Resnet-50", "ResNet-50, ImageNet classifier"),
    "imagenet/ResNet-101": _imagenet("ResNet101", "Resnet-101", "ResNet-101, ImageNet classifier"),
    "imagenet/ResNet-152": _imagenet("ResNet152", "Resnet-152", "ResNet-152, ImageNet classifier"),
    "imagenet/SENet-154": _imagenet("SENet", "SENet-154", "SENet-154, ImageNet classifier"),
    "imagenet/ShuffleNet": _imagenet("ShuffleNet10", "ShuffleNet", "ShuffleNet 1.0x, ImageNet classifier"),
    "imagenet/ShuffleNet-0.5x": _imagenet("ShuffleNet05", "ShuffleNet-0.5x", "ShuffleNet 0.5x, ImageNet classifier",
                                          cache_stem="ShuffleNet-.05x"),
    "imagenet/ShuffleNet-2.0x": _imagenet("ShuffleNet20", "ShuffleNet-2.0x", "ShuffleNet 2.0x, ImageNet classifier"),
    "imagenet/SqueezeNet-1.0": _imagenet("SqueezeNetV10", "SqueezeNet-1.0", "SqueezeNet 1.0, ImageNet classifier"),
    "imagenet/SqueezeNet-1.1": _imagenet("SqueezeNetV11", "SqueezeNet-1.1", "SqueezeNet 1.1, ImageNet classifier"),
    "imagenet/VGG-11": _imagenet("VGG11", "VGG-11", "VGG-11, ImageNet classifier"),
    "imagenet/VGG-13": _imagenet("VGG13", "VGG-13", "VGG-13, ImageNet classifier"),
    "imagenet/VGG-16": _imagenet("VGG16", "VGG-16", "VGG-16, ImageNet classifier"),
    "imagenet/Xception": _imagenet("Xception", "Xception", "Xception, ImageNet classifier"),
    "object_detection/YOLOv2-voc": PretrainedEntry("object_detection", "yolov2-voc.nnp", "yolov2-voc.nnp",
                                                   "YOLO v2 detector, Pascal VOC"),
    "object_detection/YOLOv2-coco": PretrainedEntry("object_detection", "yolov2-coco.nnp", "yolov2-coco.nnp",
                                                    "YOLO v2 detector, COCO"),
    "semantic_segmentation/DeepLabV3-voc-os-16": PretrainedEntry(
        "semantic_segmentation", "DeepLabV3-voc-os-16.nnp", "DeepLabV3-voc-os-16.nnp", "DeepLab v3+, VOC, os 16"),
    "semantic_segmentation/DeepLabV3-voc-os-8": PretrainedEntry(
        "semantic_segmentation", "DeepLabV3-voc-os-8.nnp", "DeepLabV3-voc-os-8.nnp", "DeepLab v3+, VOC, os 8"),
    "semantic_segmentation/DeepLabV3-voc-coco-os-16": PretrainedEntry(
        "semantic_segmentation", "DeepLabV3-voc-coco-os-16.nnp", "DeepLabV3-voc-coco-os-16.nnp",
        "DeepLab v3+, VOC+COCO, os 16"),
    "semantic_segmentation/DeepLabV3-voc-coco-os-8": PretrainedEntry(
        "semantic_segmentation", "DeepLabV3-voc-coco-os-8.nnp", "DeepLabV3-voc-coco-os-8.nnp",
        "DeepLab v3+, VOC+COCO, os 8"),
}


def is_pretrained_name(spec: str) -> bool:
    return spec.startswith(PREFIX)


def cache_path(name: str) -> str:
    """Where NNabla caches the pretrained model ``name`` (without the ``nnabla.models:`` prefix)."""
    from nnabla.models.utils import get_model_home

    entry = lookup(name)
    return os.path.join(get_model_home(), entry.category, entry.file)


def lookup(name: str) -> PretrainedEntry:
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=1, cutoff=0.5)
        hint = f"; did you mean '{PREFIX}{close[0]}'?" if close else ""
        raise ModelError(f"unknown pretrained model '{PREFIX}{name}'{hint} See 'nnsurgeon models' for the list")
    return REGISTRY[name]


def fetch(spec: str) -> str:
    """Path of the cached .nnp for ``spec`` (``nnabla.models:CATEGORY/NAME``), downloading it with NNabla's
    downloader when missing. Raises :class:`ModelError` saying where to put the file when that fails."""
    from .._nnabla import nnabla_quiet

    nnabla_quiet()
    from nnabla.models.utils import get_model_url_base
    from nnabla.utils.download import download

    name = spec[len(PREFIX):]
    entry = lookup(name)
    path = cache_path(name)
    if os.path.isfile(path):
        return path
    url = get_model_url_base().rstrip("/") + f"/{entry.category}/{entry.url}"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        download(url, path, open_file=False, allow_overwrite=False)
    except Exception as e:  # urllib raises URLError/HTTPError/OSError/ValueError; all mean "not downloadable"
        if os.path.exists(path) and os.path.getsize(path) == 0:
            os.unlink(path)
        reason = getattr(e, "reason", None) or e
        raise ModelError(
            f"{spec}: not cached at {path} and the download from {url} failed ({reason}); "
            "put the .nnp file at that path, or set NNABLA_MODELS_URL_BASE to a reachable mirror") from None
    return path

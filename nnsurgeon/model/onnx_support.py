"""What the optional ONNX support needs, said once: the packages (``nnsurgeon[onnx]``), the opsets NNabla's
converter reads and writes, and which NNabla function types it converts (from the converter's own tables).

NNabla's ONNX converter lives in the ``nnabla-converter`` package, whose requirements pull in TensorFlow
(about 2 GB); its ONNX classes need only ``onnx``. ``scripts/bootstrap.sh`` installs it with ``--no-deps``.
"""
from typing import Dict, List, Tuple

from ..errors import NnsurgeonError

INSTALL = ("pip install 'nnsurgeon[onnx]' && pip install --no-deps nnabla-converter==1.39.0 "
           "(scripts/bootstrap.sh does both)")

# NNabla 1.39's OnnxImporter reads opsets up to 14 (6 and below read as 6; 8 has no table) and its
# OnnxExporter writes these.
IMPORT_OPSETS: Tuple[int, ...] = (6, 7, 9, 10, 11, 12, 13, 14)
EXPORT_OPSETS: Tuple[int, ...] = (7, 9, 10, 11, 13)
DEFAULT_EXPORT_OPSET = 13
PYTORCH_HINT = ("from PyTorch, export with the legacy exporter: torch.onnx.export(model, args, path, "
                "dynamo=False, opset_version=14) or lower")


class MissingOnnxSupport(NnsurgeonError):
    """The optional ONNX packages are not installed."""


def require_onnx():
    """Import and return (onnx, onnxruntime, nnabla's converter module); one line naming the install command
    when one of them is missing."""
    from .._nnabla import nnabla_quiet

    nnabla_quiet()
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise MissingOnnxSupport(f"ONNX support is not installed ({e.name} is missing); install it with: "
                                 f"{INSTALL}") from None
    try:
        from nnabla.utils.converter import onnx as converter
    except ImportError:
        raise MissingOnnxSupport("ONNX support is not installed (NNabla's ONNX converter, package "
                                 f"nnabla-converter, is missing); install it with: {INSTALL}") from None
    return onnx, onnxruntime, converter


def export_table(opset: int) -> Dict[str, object]:
    """NNabla function type -> how NNabla's OnnxExporter converts it at ``opset`` (its own table)."""
    _, _, converter = require_onnx()
    from types import SimpleNamespace

    from nnabla.utils import nnabla_pb2

    exporter = converter.OnnxExporter(SimpleNamespace(protobuf=nnabla_pb2.NNablaProtoBuf()), 1, -1, str(opset))
    return dict(exporter.nnabla_function_type_to_onnx_optype)


def import_table(opset: int) -> Dict[str, object]:
    """ONNX operator -> how NNabla's OnnxImporter converts it at ``opset`` (its own table)."""
    _, _, converter = require_onnx()
    importer = converter.OnnxImporter()
    return dict(importer.opver_impl_map[str(opset)])


def supported_types() -> Tuple[List[str], List[str]]:
    """(NNabla types that export at the default opset, ONNX operators that import at opset 14), sorted."""
    exported = set(export_table(DEFAULT_EXPORT_OPSET))
    # nnsurgeon writes these itself (module nnsurgeon.model.onnx_export)
    exported.update({"MinMaxQuantize", "QuantizeLinear", "DequantizeLinear"})
    return sorted(exported), sorted(import_table(max(IMPORT_OPSETS)))


def supported_types_markdown() -> str:
    """The README's table of convertible types, generated from the converter's tables
    (``python -m nnsurgeon.model.onnx_support``)."""
    exported, imported = supported_types()
    lines = [f"Export (NNabla function types, opset {DEFAULT_EXPORT_OPSET}; {len(exported)} types): "
             + ", ".join(f"`{t}`" for t in exported) + ".",
             "",
             f"Import (ONNX operators, opset {max(IMPORT_OPSETS)}; {len(imported)} operators): "
             + ", ".join(f"`{t}`" for t in imported) + "."]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - exercised by tests/test_onnx.py through a subprocess
    print(supported_types_markdown())

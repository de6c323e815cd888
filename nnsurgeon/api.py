"""The Python API: what the CLI does, callable from Python. Each function takes a model path/name or a
loaded :class:`~nnsurgeon.model.NnpModel`."""
from typing import Dict, List, Optional, Sequence, Union

from .model import NnpModel, load_model, write_nnp
from .passes import PassResult

ModelLike = Union[str, NnpModel]


def load(model: ModelLike) -> NnpModel:
    """Load an .nnp path or ``nnabla.models:CATEGORY/NAME`` (a loaded model is returned as is).

    Example::

        m = nnsurgeon.load("model.nnp")
    """
    return model if isinstance(model, NnpModel) else load_model(model)


def save(model: NnpModel, path: str, network_format: Optional[str] = None, param_format: Optional[str] = None,
         force: bool = False) -> str:
    """Write ``model`` to ``path`` atomically (see :func:`nnsurgeon.model.write_nnp`)."""
    return write_nnp(model, path, network_format, param_format, force)


def list_layers(model: ModelLike, network: Optional[str] = None, types: Sequence[str] = (),
                names: Sequence[str] = (), batch_size: Optional[int] = None) -> List[Dict]:
    """One dict per function, as ``nnsurgeon list-layers --format json`` prints them.

    Example::

        [r["name"] for r in nnsurgeon.list_layers("m.nnp", types=["ReLU"])]
    """
    from .graph.functions import check_type
    from .graph.layers import layer_rows
    from .rules.selector import _name_matcher

    m = load(model)
    for t in types:
        check_type(t)
    matchers = [_name_matcher(n) for n in names]
    rows = layer_rows(m, network, batch_size)
    return [r for r in rows if (not types or r["type"] in types) and
            (not matchers or any(mt(r["name"]) for mt in matchers))]


def info(model: ModelLike) -> Dict:
    """The summary ``nnsurgeon info`` prints."""
    from .model.summary import summarize

    return summarize(load(model))


def quantize(model: NnpModel, after: Sequence[str] = (), **options) -> PassResult:
    """Insert MinMaxQuantize after matching functions of a loaded model, in place (see
    :func:`nnsurgeon.passes.quantize.quantize` for the options)."""
    from .passes.quantize import quantize as run

    return run(model, after=after, **options)


def compare(a: ModelLike, b: ModelLike, **options):
    """Run two models on the same inputs and return per-output statistics (see :mod:`nnsurgeon.runtime.compare`)."""
    from .runtime.compare import compare_models

    return compare_models(load(a), load(b), **options)

"""NNabla contexts by name: ``cpu`` everywhere, ``cudnn``/``cuda`` where nnabla-ext-cuda is installed."""
from .._nnabla import nnabla_quiet
from ..errors import NnsurgeonError, opt


def get_context(name: str = "cpu", device_id: str = "0", type_config: str = "float"):
    """The ``nnabla.Context`` for ``name`` (cpu, cuda, cudnn). Raises a user error naming the package to
    install when the extension is missing.

    Example::

        with nn.context_scope(get_context("cudnn")):
            ...
    """
    nnabla_quiet()
    import logging

    from nnabla.ext_utils import get_extension_context

    nn_logger = logging.getLogger("nnabla")
    level = nn_logger.level
    nn_logger.setLevel(logging.CRITICAL)  # NNabla logs its own ERROR line for a missing extension
    try:
        return get_extension_context(name, device_id=device_id, type_config=type_config)
    except (ImportError, ModuleNotFoundError, ValueError) as e:
        raise NnsurgeonError(
            f"context '{name}' is not available here ({e}); install the matching NNabla extension "
            f"(e.g. nnabla-ext-cuda120 for cudnn) or use {opt('context', 'cpu')}") from None
    finally:
        nn_logger.setLevel(level)

"""Exceptions: user mistakes (``NnsurgeonError`` and subclasses) apart from our own bugs (``InternalError``).

Library code raises these; only the CLI turns them into one ``Error: ...`` line and an exit code.

Messages that name an option write it as :func:`opt` tokens, rendered in the caller's language when the
message is shown: ``--allow-empty`` on the command line, ``allow-empty: true`` in a recipe, ``allow_empty=True``
in Python (the default). The CLI and the recipe runner choose with :func:`dialect`.
"""
import contextlib
import contextvars
import re
from typing import Dict, Optional

_DIALECT: "contextvars.ContextVar[str]" = contextvars.ContextVar("nnsurgeon_dialect", default="python")
_TOKEN = re.compile(r"\{\{opt:([A-Za-z0-9_-]+)(?:=([^}]*))?\}\}")
CLI_FLAGS: Dict[str, str] = {}  # recipe key -> CLI flag where they differ (filled by the CLI layer)


def opt(key: str, value: Optional[str] = None) -> str:
    """An option named in a message. ``key`` in recipe form (``allow-empty``), ``value`` as YAML writes it.

    Example::

        raise SelectionError(f"nothing matches; add {opt('allow-empty', 'true')}")
    """
    return "{{opt:%s%s}}" % (key, "" if value is None else "=" + str(value))


def _render(match, dialect: str) -> str:
    key, value = match.group(1), match.group(2)
    if dialect == "cli":
        flag = CLI_FLAGS.get(key, "--" + key)
        return flag if value in (None, "true") else f"{flag} {value}"
    if dialect == "recipe":
        return f"'{key}'" if value is None else f"'{key}: {value}'"
    py_value = {"true": "True", "false": "False", "null": "None"}.get(value, value)
    return key.replace("-", "_") if value is None else f"{key.replace('-', '_')}={py_value}"


def render(text: str, dialect: Optional[str] = None) -> str:
    """``text`` with its option tokens written for ``dialect`` (default: the current one)."""
    d = dialect or _DIALECT.get()
    return _TOKEN.sub(lambda m: _render(m, d), text)


@contextlib.contextmanager
def dialect(name: str):
    """Render option names in messages raised inside the block as ``name`` (python, cli, recipe) writes them."""
    token = _DIALECT.set(name)
    try:
        yield
    finally:
        _DIALECT.reset(token)


class NnsurgeonError(Exception):
    """A problem with the user's input: a file, a name, an option. The message says what, where and how to fix."""

    exit_code = 2

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.dialect = _DIALECT.get()  # the caller's language at the time of the error

    def __str__(self) -> str:
        return render(super().__str__(), self.dialect)


class ModelError(NnsurgeonError):
    """A model file (or pretrained name) that cannot be read, or that NNabla would silently misread."""


class SelectionError(NnsurgeonError):
    """A selector (type, name, network) that names nothing or something unknown."""


class OptionError(NnsurgeonError):
    """An option value out of range or of the wrong kind (CLI option, recipe key or keyword argument)."""


class DataError(NnsurgeonError):
    """Input data (calibration, extraction, comparison) of the wrong shape, name, dtype or content."""


class OutputError(NnsurgeonError):
    """An output path that cannot be written or would overwrite something."""


class CheckFailed(NnsurgeonError):
    """A check the user asked for did not hold (a comparison threshold, an expectation)."""

    exit_code = 1


class InternalError(Exception):
    """A bug in nnsurgeon: an invariant the code relies on does not hold. Never raised for bad input."""


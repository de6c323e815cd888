"""Exceptions: user mistakes (``NnsurgeonError`` and subclasses) apart from our own bugs (``InternalError``).

Library code raises these; only the CLI turns them into one ``Error: ...`` line and an exit code.
"""


class NnsurgeonError(Exception):
    """A problem with the user's input: a file, a name, an option. The message says what, where and how to fix."""

    exit_code = 2


class ModelError(NnsurgeonError):
    """A model file (or pretrained name) that cannot be read, or that NNabla would silently misread."""


class SelectionError(NnsurgeonError):
    """A selector (type, name, network) that names nothing or something unknown."""


class DataError(NnsurgeonError):
    """Input data (calibration, extraction, comparison) of the wrong shape, name, dtype or content."""


class OutputError(NnsurgeonError):
    """An output path that cannot be written or would overwrite something."""


class CheckFailed(NnsurgeonError):
    """A check the user asked for did not hold (a comparison threshold, an expectation)."""

    exit_code = 1


class InternalError(Exception):
    """A bug in nnsurgeon. Never raised for bad input."""

"""Interim writer for pages and picture folders, with the API of the project's one writer
(``nnsurgeon.model.output``: ``atomic_file`` / ``atomic_folder``); swap the import when that lands.

Inputs are refused as outputs even with ``force``; an existing output needs ``force``; the result is written
under a temporary name beside the target and renamed into place only when complete.
"""
import contextlib
import os
import shutil
import tempfile
from typing import Iterator, Optional, Sequence

from ..errors import OutputError


def check_output(path: str, *, inputs: Sequence[Optional[str]] = (), force: bool = False, folder: bool = False,
                 extensions: Optional[Sequence[str]] = None) -> None:
    if extensions and not folder and not path.lower().endswith(tuple(extensions)):
        raise OutputError(f"{path}: the output name must end in {' or '.join(extensions)}; "
                          f"e.g. {os.path.splitext(path)[0] or 'out'}{extensions[0]}")
    for source in inputs:
        if source and os.path.exists(source) and os.path.exists(path) and os.path.samefile(source, path):
            raise OutputError(f"{path}: is an input of this command; choose another output path")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OutputError(f"{path}: folder {parent} does not exist; create it first")
    if os.path.lexists(path):
        if os.path.isdir(path) != folder:
            raise OutputError(f"{path}: exists and is a {'file' if folder else 'folder'}; choose another path")
        if not force:
            raise OutputError(f"{path}: already exists; choose another path or add --force to replace it")


@contextlib.contextmanager
def atomic_file(path: str, *, inputs: Sequence[Optional[str]] = (), force: bool = False,
                extensions: Sequence[str] = (".html",)) -> Iterator[str]:
    check_output(path, inputs=inputs, force=force, extensions=extensions)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        yield tmp
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_folder(path: str, *, inputs: Sequence[Optional[str]] = (), force: bool = False) -> Iterator[str]:
    path = path.rstrip("/\\") or path
    check_output(path, inputs=inputs, force=force, folder=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(os.path.abspath(path)))
    try:
        yield tmp
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)

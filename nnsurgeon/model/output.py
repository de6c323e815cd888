"""The one writer: every file and folder nnsurgeon writes (models, arrays, picture folders, recipes, pages)
goes through :func:`atomic_file` or :func:`atomic_folder`.

Rules, the same for every command:

- every input of the command (model, data, recipe) is refused as an output, even with ``force``; so is a
  folder that contains one of them or the working directory;
- an existing output is refused unless ``force``; a folder is replaced only when it is empty or holds this
  tool's marker file (:data:`MARKER`) from an earlier run: nnsurgeon never deletes what it did not write;
- output names are checked (``.nnp`` for models, ...), so a command never writes a file under a name the
  reader will refuse;
- the output is written under a temporary name beside the target and renamed into place only when it is
  complete: it appears whole or not at all, also on Ctrl-C or a full disk;
- files get the mode the umask gives (or the mode of the file they replace), folders likewise;
- temporary names carry the writer's process id (``.NAME.nnsurgeon-tmp-PID-XXXX``), so a later write to the
  same target removes what a killed run left behind.
"""
import contextlib
import errno
import glob
import os
import shutil
import stat
import tempfile
from typing import Iterator, Optional, Sequence

from ..errors import OutputError, opt
from ..interrupt import check_interrupted

MARKER = ".nnsurgeon-output"
_TMP = ".nnsurgeon-tmp-"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it: compared by identity (device, inode) of each ancestor,
    so symbolic links and case-insensitive file systems cannot hide it."""
    try:
        target = os.stat(folder)
    except OSError:
        return False
    current = os.path.realpath(path)
    while True:
        try:
            st = os.stat(current)
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                return True
        except OSError:
            pass
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent


_FILE_EXTENSIONS = (".nnp", ".npz", ".npy", ".onnx", ".yaml", ".yml", ".json", ".html", ".png", ".svg", ".dot",
                    ".h5", ".zip")
committed: list = []  # outputs renamed into place by this process (an interrupt after that is reported so)


def _marker_lists(folder: str) -> Optional[set]:
    """The entries nnsurgeon wrote into ``folder`` (from its marker), or None if it holds no marker."""
    try:
        with open(os.path.join(folder, MARKER), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return {line[2:] for line in lines if line.startswith("- ")} | {MARKER}


def check_output(path: str, *, inputs: Sequence[Optional[str]] = (), force: bool = False, folder: bool = False,
                 extensions: Optional[Sequence[str]] = None) -> None:
    """Raise :class:`OutputError` unless ``path`` may be written by the rules in the module doc.

    Example::

        check_output("out.nnp", inputs=["in.nnp"], extensions=(".nnp",))
    """
    if not path or not path.strip():
        raise OutputError("the output path is empty; give a file name")
    path = path.rstrip("/\\") or path
    stem, ext = os.path.splitext(os.path.basename(path))
    if extensions and not folder and (ext not in extensions or not stem):
        raise OutputError(f"{path}: the output name must end in {' or '.join(extensions)} (lower case, after a "
                          f"name); e.g. {os.path.join(os.path.dirname(path), stem or 'out')}{extensions[0]}")
    if folder and ext.lower() in _FILE_EXTENSIONS:
        raise OutputError(f"{path}: this command writes a folder; give a folder name without a file extension "
                          f"('{ext}')")
    for source in inputs:
        if not source or not os.path.exists(source):
            continue
        if _same(source, path):
            raise OutputError(f"{path}: is an input of this command ({source}); nnsurgeon never overwrites its "
                              "inputs, choose another output path")
        if folder and os.path.isdir(path) and _inside(source, path):
            raise OutputError(f"{path}: holds an input of this command ({source}); choose another output folder")
    if folder and os.path.isdir(path) and _inside(os.getcwd(), path):
        raise OutputError(f"{path}: is the current folder (or holds it); give a new folder name for the output")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OutputError(f"{path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: folder {parent} is not writable; choose another output path")
    if not os.path.lexists(path):
        return
    if not folder and not os.path.isdir(path) and not os.path.isfile(path):
        raise OutputError(f"{path}: exists and is not a regular file; choose another output path")
    if os.path.isdir(path) and not folder:
        raise OutputError(f"{path}: is a folder; give a file name")
    if folder and not os.path.isdir(path):
        raise OutputError(f"{path}: exists and is a file; give a folder name")
    if not force:
        raise OutputError(f"{path}: already exists; choose another path or add {opt('force')} to replace it")
    if folder and os.listdir(path):
        ours = _marker_lists(path)
        if ours is None:
            raise OutputError(f"{path}: is a folder nnsurgeon did not write (no {MARKER} inside); nnsurgeon never "
                              f"deletes it, even with {opt('force')}: choose a new folder name or empty it yourself")
        extra = sorted(set(os.listdir(path)) - ours)
        if extra:
            raise OutputError(f"{path}: holds files nnsurgeon did not write ({', '.join(extra[:3])}); nnsurgeon "
                              f"never deletes them, even with {opt('force')}: move them or choose a new folder name")


def _temp_name(path: str) -> str:
    return "." + os.path.basename(path) + _TMP + str(os.getpid()) + "-"


def remove_stale(path: str) -> int:
    """Remove temporary files/folders that earlier, killed runs left for ``path``; return how many."""
    folder = os.path.dirname(os.path.abspath(path))
    removed = 0
    for tmp in glob.glob(os.path.join(glob.escape(folder), "." + glob.escape(os.path.basename(path)) + _TMP + "*")):
        pid = os.path.basename(tmp)[len(os.path.basename(path)) + 1 + len(_TMP):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _disk_full(path: str) -> bool:
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def _os_error(path: str, e: OSError) -> OutputError:
    # numpy's tofile reports a short write without an errno: look at the disk then
    if e.errno == errno.ENOSPC or (e.errno is None and _disk_full(path)):
        return OutputError(f"{path}: no space left on the device; nothing was written")
    if e.errno == errno.EDQUOT:
        return OutputError(f"{path}: disk quota exceeded; nothing was written")
    return OutputError(f"{path}: cannot write ({e.strerror or e}); nothing was written")


@contextlib.contextmanager
def atomic_file(path: str, *, inputs: Sequence[Optional[str]] = (), force: bool = False,
                extensions: Optional[Sequence[str]] = None) -> Iterator[str]:
    """Yield a temporary path beside ``path``; when the block ends cleanly the file written there is renamed
    onto ``path`` (mode from the umask, or the replaced file's mode); on any error or interrupt it is removed.

    Example::

        with atomic_file("acts.npz", inputs=[model_path], extensions=(".npz",)) as tmp:
            np.savez(tmp, **arrays)
    """
    check_output(path, inputs=inputs, force=force, extensions=extensions)
    remove_stale(path)
    folder = os.path.dirname(os.path.abspath(path))
    mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.isfile(path) else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_name(path), suffix=os.path.splitext(path)[1], dir=folder)
        os.close(fd)
    except OSError as e:
        raise _os_error(path, e) from None
    try:
        yield tmp
        check_interrupted()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        committed.append(path)
    except OSError as e:
        raise _os_error(path, e) from None
    finally:
        if os.path.lexists(tmp):
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def atomic_folder(path: str, *, inputs: Sequence[Optional[str]] = (), force: bool = False) -> Iterator[str]:
    """Yield a new temporary folder beside ``path`` (holding the marker file); when the block ends cleanly it
    replaces ``path`` (which must be absent, empty, or written by nnsurgeon); otherwise it is removed.

    Example::

        with atomic_folder("maps", inputs=[model_path]) as tmp:
            write_pictures(tmp)
    """
    path = path.rstrip("/\\") or path
    check_output(path, inputs=inputs, force=force, folder=True)
    remove_stale(path)
    parent = os.path.dirname(os.path.abspath(path))
    try:
        tmp = tempfile.mkdtemp(prefix=_temp_name(path), dir=parent)
        os.chmod(tmp, 0o777 & ~_umask())
        with open(os.path.join(tmp, MARKER), "w") as f:
            f.write("written by nnsurgeon; nnsurgeon may replace this folder when asked to (force)\n")
    except OSError as e:
        raise _os_error(path, e) from None
    old = None
    try:
        yield tmp
        check_interrupted()
        with open(os.path.join(tmp, MARKER), "a", encoding="utf-8") as f:  # what we wrote, for a later --force
            f.write("".join(f"- {name}\n" for name in sorted(os.listdir(tmp)) if name != MARKER))
        if os.path.lexists(path):
            check_output(path, inputs=inputs, force=force, folder=True)  # again: files may have appeared since
            old = tempfile.mkdtemp(prefix=_temp_name(path), dir=parent)
            os.rmdir(old)
            os.rename(path, old)
        os.rename(tmp, path)
        committed.append(path)
    except BaseException as e:
        if old and not os.path.lexists(path) and os.path.lexists(old):
            os.rename(old, path)  # put the previous output back
            old = None
        if isinstance(e, OSError):
            raise _os_error(path, e) from None
        raise
    finally:
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        if old and os.path.islink(old):
            os.unlink(old)
        elif old and os.path.isdir(old):
            shutil.rmtree(old, ignore_errors=True)

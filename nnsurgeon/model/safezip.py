"""Zip archives from untrusted hands (.nnp models, .npz data), checked before anything is inflated.

Every member's declared sizes, compression method, flags and name are checked from the central directory
first; then members are read through a stream that stops at the declared size. A zip bomb (a member that
inflates far past the archive's size, or many entries sharing one compressed block) is refused before a byte
is inflated, so reading costs memory in proportion to the archive, never to what it claims to hold.

Limits (documented in the README's Security section):

- all members together may inflate to at most ``INFLATE_RATIO`` times the archive's size plus
  ``INFLATE_SLACK`` (parameters compress little, text a few times; a bomb compresses a thousandfold),
  and never past ``INFLATE_CAP``;
- at most ``MAX_MEMBERS`` members; entries may not overlap (each entry's data lies apart from the others').
"""
import os
import zipfile
from typing import Iterable, List, Type

from ..errors import NnsurgeonError

INFLATE_RATIO = 100
INFLATE_SLACK = 64 << 20
INFLATE_CAP = 4 << 30
MAX_MEMBERS = 10_000
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
            zipfile.ZIP_LZMA: "lzma"}
_LOCAL_HEADER = 30  # bytes of a local file header before its name and extra field


def inflate_limit(archive_size: int) -> int:
    """How many bytes the members of an archive of ``archive_size`` bytes may inflate to, all together."""
    return min(INFLATE_CAP, INFLATE_SLACK + INFLATE_RATIO * archive_size)


def open_zip(path: str, error: Type[NnsurgeonError], what: str = "zip") -> zipfile.ZipFile:
    """``zipfile.ZipFile(path)`` with its central directory checked (:func:`check_members`); raise ``error``
    naming ``path`` for anything damaged or crafted."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise error(f"{path}: not a valid {what} file ({_brief(e)}); re-export it or check the download") from None
    except UnicodeDecodeError:
        raise error(f"{path}: a member name is marked UTF-8 but is not; re-export it") from None
    except (ValueError, EOFError, OSError, NotImplementedError) as e:
        raise error(f"{path}: the {what} is damaged or truncated ({_brief(e)}); re-export it or download it "
                    "again") from None
    try:
        check_members(path, zf.infolist(), os.path.getsize(path), zf.start_dir, error)
    except BaseException:
        zf.close()
        raise
    return zf


def check_members(path: str, infos: List[zipfile.ZipInfo], archive_size: int, directory_start: int,
                  error: Type[NnsurgeonError]) -> None:
    """Refuse, naming the member: too many members, an empty, escaping or repeated name, encryption, an
    unsupported compression method, overlapping entries, or sizes that inflate past :func:`inflate_limit`."""
    if len(infos) > MAX_MEMBERS:
        raise error(f"{path}: holds {len(infos)} members, more than the {MAX_MEMBERS} nnsurgeon reads; "
                    "is this really a model or data file?")
    seen = set()
    total = 0
    for info in infos:
        name = info.filename
        _check_name(path, name, error)
        if name in seen:
            raise error(f"{path}: member '{name}' appears twice; re-export the file")
        seen.add(name)
        if info.flag_bits & 0x1:
            raise error(f"{path}: member '{name}' is encrypted; nnsurgeon reads unencrypted files only")
        if info.compress_type not in _METHODS:
            raise error(f"{path}: member '{name}' uses compression method {info.compress_type}, which nnsurgeon "
                        f"does not read ({', '.join(_METHODS.values())}); re-export the file")
        total += info.file_size
    limit = inflate_limit(archive_size)
    if total > limit:
        raise error(f"{path}: its members would inflate to {total:,} bytes, more than the {limit:,} allowed for "
                    f"a {archive_size:,}-byte archive (a zip bomb?); nnsurgeon refuses it")
    _check_overlaps(path, infos, directory_start, error)


def _check_name(path: str, name: str, error: Type[NnsurgeonError]) -> None:
    if not name.strip("/"):
        raise error(f"{path}: a member has an empty name; re-export the file")
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        raise error(f"{path}: member {name!r} has control characters in its name; re-export the file")
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise error(f"{path}: member '{name}' has a name that points outside the archive; nnsurgeon refuses it")


def _check_overlaps(path: str, infos: Iterable[zipfile.ZipInfo], directory_start: int,
                    error: Type[NnsurgeonError]) -> None:
    """Each entry's local header and data must end before the next entry begins (the zip format lays them one
    after the other); entries that share bytes are how a few hundred KB claim gigabytes."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for info, following in zip(ordered, ordered[1:] + [None]):
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        end = info.header_offset + _LOCAL_HEADER + len(info.filename.encode(encoding, "replace")) \
            + info.compress_size
        limit = following.header_offset if following is not None else directory_start
        if info.header_offset < 0 or end > limit:
            raise error(f"{path}: member '{info.filename}' overlaps "
                        f"{'member ' + repr(following.filename) if following else 'the central directory'} "
                        "(a crafted zip); nnsurgeon refuses it")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, error: Type[NnsurgeonError]) -> bytes:
    """The bytes of one member, read in chunks that stop at its declared size (checked by
    :func:`check_members`), with zipfile's CRC check at the end."""
    chunks = []
    left = info.file_size
    try:
        with zf.open(info) as stream:
            while left > 0:
                chunk = stream.read(min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            if left == 0 and stream.read(1):
                left = -1
    except zipfile.BadZipFile as e:
        raise error(f"{path}: member '{info.filename}' is damaged ({_brief(e)}); re-export the file") from None
    except (EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as e:
        raise error(f"{path}: member '{info.filename}' cannot be read ({type(e).__name__}: {_brief(e)}); "
                    "re-export the file") from None
    except Exception as e:  # zlib.error, lzma.LZMAError, _bz2 errors: a damaged compressed stream
        raise error(f"{path}: member '{info.filename}' is damaged ({type(e).__name__}: {_brief(e)}); "
                    "re-export the file") from None
    if left != 0:
        raise error(f"{path}: member '{info.filename}' does not hold the {info.file_size:,} bytes it declares; "
                    "re-export the file")
    return b"".join(chunks)


def _brief(error: BaseException, limit: int = 160) -> str:
    """The error's text cut to ``limit`` characters: zipfile quotes whatever bytes a damaged header makes it
    read (a name length bumped to 60,000 put the rest of the file into one error line)."""
    text = str(error)
    return text if len(text) <= limit else text[:limit] + "..."

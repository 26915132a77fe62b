"""Files written whole or not at all: through a temporary file beside the final one, renamed into place.

What a path names decides how it is written:

- a regular file, or nothing yet: a temporary file beside it, renamed over it when complete;
- a symbolic link: the link is kept and its target is written (atomically, beside the target);
- a FIFO or a character device (``/dev/stdout``, a pipe): written as a stream, once the content is
  complete (it is made in a private temporary folder first), never replaced by a regular file;
- a folder, a socket or a block device: refused, with an OSError naming the path.

Every problem (a full disk, a read-only folder, a name too long, a link loop) is an OSError naming the
path, which the command line reports in one line. A temporary file's name holds its writer's process id:
one left by a writer that died is removed the next time a file is written in that folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

_PRIVATE = "convsim-stream-"  # the private folders of outputs that are streams
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$")
_swept: set[Path] = set()
LOCK = ".convsim.lock"


def _checked(path: str | Path) -> Path:
    if not str(path):  # (Path("") is ".", so commands check their text first with this)
        raise FileNotFoundError(errno.ENOENT, "an empty path is no place to write", str(path))
    return Path(path)


def destination(path: str | Path) -> Path:
    """The file that writing ``path`` writes: the path itself, or a symbolic link's final target. A link
    loop, a folder, a socket or a block device is an OSError."""
    path = _checked(path)
    final = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(final).st_mode
    except FileNotFoundError:
        if path.is_symlink():  # a dangling link: its target is created, unless the chain loops
            with contextlib.suppress(FileNotFoundError):
                os.stat(path)  # raises ELOOP for a loop
        return final
    except NotADirectoryError:
        raise NotADirectoryError(errno.ENOTDIR, "a parent of this path is a file, not a folder", str(path)) from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder, expected a file", str(path))
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        raise OSError(errno.EINVAL, "is neither a regular file, a FIFO nor a character device: not replaced",
                      str(path))
    return final


def is_stream(path: Path) -> bool:
    """Whether ``path`` (a destination) is a FIFO or a character device, written as a stream."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def folder(path: str | Path) -> Path:
    """An output folder, made if missing (with its parents); an OSError names the path if it cannot be
    (a file, under a file, read-only, too long, a link loop, empty)."""
    path = _checked(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        os.stat(path)  # a link loop or a dangling link says so
        raise NotADirectoryError(errno.ENOTDIR, "is a file, expected a folder", str(path)) from None
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(path))
    return path


def temporary(path: Path) -> Path:
    """A new, empty file beside ``path``'s destination (``.NAME.PID.XXXXXXXX.tmp``; in a private temporary
    folder when the destination is a stream), created as any program creates its files: mode 0o666
    less the umask (``tempfile.mkstemp`` would make it 0o600, readable by nobody else)."""
    final = destination(path)
    if is_stream(final):
        parent = Path(tempfile.mkdtemp(prefix=_PRIVATE))
    else:
        parent = folder(final.parent)
        sweep_stale(parent)
    while True:
        candidate = parent / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        except OSError as exc:  # named by the folder, not by a temporary name the user never gave
            raise named(exc, parent) from None
        return candidate


def commit(written: Path, path: Path) -> None:
    """Put a complete temporary file (from :func:`temporary`) in ``path``'s place: renamed over a regular
    file (through a link, over its target), copied into a stream."""
    final = destination(path)
    if not is_stream(final):
        os.replace(written, final)
        return
    try:
        with open(written, "rb") as source, open(final, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    finally:
        discard(written)


def discard(written: Path) -> None:
    """Remove a temporary file (and its private folder, for a stream's)."""
    written.unlink(missing_ok=True)
    if written.parent.name.startswith(_PRIVATE) and written.parent.parent == Path(tempfile.gettempdir()):
        with contextlib.suppress(OSError):
            written.parent.rmdir()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` on a temporary file in ``path``'s folder, then put it in place (:func:`commit`): a
    reader never sees a half-written file under the final name."""
    written = temporary(Path(path))
    try:
        write(written)
        commit(written, Path(path))
    except OSError as exc:
        discard(written)
        raise named(exc, path) from None
    except BaseException:
        discard(written)
        raise


def named(exc: OSError, path: str | Path) -> OSError:
    """``exc`` naming ``path`` when it names no file (pyarrow's "no space left on device" names none)."""
    if exc.filename is not None:
        return exc
    return type(exc)(exc.errno, exc.strerror or " ".join(str(exc).split()), str(path)) if exc.errno else \
        OSError(errno.EIO, " ".join(str(exc).split()), str(path))


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(parent: Path) -> list[Path]:
    """Remove the temporary files a writer that died left in ``parent`` (once per folder and process)."""
    if parent in _swept:
        return []
    _swept.add(parent)
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    for name in names:
        match = _TEMPORARY.match(name)
        if match and int(match.group(1)) != os.getpid() and not alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                (parent / name).unlink()
                removed.append(parent / name)
    return removed


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[Path]:
    """Hold an output folder for one command at a time (an ``fcntl`` lock on ``.convsim.lock`` in it); a
    folder another process holds is a BlockingIOError naming it and that process."""
    where = folder(path)
    lock = where / LOCK
    handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "unknown"
            raise BlockingIOError(errno.EWOULDBLOCK, f"another convsim command (pid {holder}) is writing to this "
                                  "folder; wait for it to finish or choose another --out", str(where)) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode(), 0)
        sweep_stale(where)
        yield where
    finally:
        os.close(handle)

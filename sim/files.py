"""Files written whole or not at all: through a temporary file beside the final one, renamed into place."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def temporary(path: Path) -> Path:
    """A new, empty file beside ``path`` (``.NAME.XXXXXXXX.tmp``), created as any program creates its
    files: mode 0o666 less the umask (``tempfile.mkstemp`` would make it 0o600, readable by nobody else)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` on a temporary file in ``path``'s folder, then rename it to ``path``: a reader never
    sees a half-written file under the final name."""
    written = temporary(path)
    try:
        write(written)
        os.replace(written, path)
    except BaseException:
        written.unlink(missing_ok=True)
        raise

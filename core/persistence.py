"""Reading files safely, atomic writes, and keeping damaged files aside. No Qt: the GUI and the CLI
both use it.

A save never leaves a half-written file behind: write a temp file in the same directory, flush,
fsync, then ``os.replace`` over the target (atomic on POSIX and Windows), then fsync the directory
so the rename itself survives a power cut (the routine of electrum's ``storage.py``). A save to a
symbolic link writes through to the link's target; the link stays a link.

A read never hangs or exhausts memory on whatever a user (or a damaged disk) puts at a path:
:func:`read_text_file` refuses what is not a regular file (``/dev/zero``, a FIFO, a folder) and
anything over a size limit, and names the file and the problem; :func:`read_json_file` adds
JSON's own failures, including nesting too deep for the parser (``RecursionError``) and
``NaN``/``Infinity``, which are not JSON.
"""
from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from core.errors import FileFormatError

#: Largest scenario, settings or autosave file read (a workspace with a long simulation is far smaller).
MAX_JSON_BYTES: Final = 64 * 1024 * 1024
#: Temp files an interrupted save left behind are removed at start-up once this old (seconds).
STALE_TEMP_S: Final = 600.0


def read_text_file(path: Path | str, *, max_bytes: int, what: str = "file") -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes``; :class:`FileFormatError` otherwise.

    Examples
    --------
    >>> read_text_file("/dev/zero", max_bytes=1_000)
    Traceback (most recent call last):
    ...
    core.errors.FileFormatError: /dev/zero: not a regular file (a device, a pipe or a folder cannot be read as a file)
    """
    p = Path(path)
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise FileFormatError(str(p), "not a regular file (a device, a pipe or a folder cannot be read as a file)")
        if st.st_size > max_bytes:
            raise FileFormatError(str(p), f"{st.st_size:,} bytes; a {what} may hold at most {max_bytes:,}")
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise FileFormatError(str(p), exc.strerror or str(exc)) from None
    if len(data) > max_bytes:  # grew while we read it
        raise FileFormatError(str(p), f"more than {max_bytes:,} bytes; a {what} may hold at most {max_bytes:,}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(str(p), f"not UTF-8 text (byte {exc.start:,} cannot be decoded)") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (use a finite number or null)")


def parse_json(text: str, *, where: str = "<text>") -> Any:
    """Decode JSON, refusing NaN/Infinity and nesting too deep to parse, naming ``where``."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise FileFormatError(where, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise FileFormatError(where, "nested too deeply to be read (a damaged or hostile file)") from None
    except ValueError as exc:  # NaN / Infinity, or an integer of more than 4,300 digits
        raise FileFormatError(where, str(exc)) from None


def read_json_file(path: Path | str, *, max_bytes: int = MAX_JSON_BYTES, what: str = "file") -> Any:
    """:func:`read_text_file` then :func:`parse_json`; every failure is one :class:`FileFormatError`."""
    return parse_json(read_text_file(path, max_bytes=max_bytes, what=what), where=str(path))


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # write through to the target; the link stays a link
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        with contextlib.suppress(OSError):
            dfd = os.open(path.parent, os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path | str, obj: Any) -> None:
    """JSON with NaN refused (``allow_nan=False``): files stay valid JSON for every reader."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def keep_aside(path: Path | str) -> Path:
    """Rename a damaged file to ``NAME.damaged-YYYYmmdd-HHMMSS[-n]`` beside it and return the new path.

    The original bytes are kept untouched so that nothing a user wrote is ever lost. Raises
    ``OSError`` where the folder does not allow it (read-only): see :func:`set_aside`.
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    return target


def set_aside(path: Path | str) -> str:
    """:func:`keep_aside`, said in words for the message that reports a damaged file.

    Where the file cannot be moved (a read-only folder), it is left where it is and not used.
    """
    try:
        return f"it was kept as {keep_aside(path).name}"
    except OSError as exc:
        return f"it could not be moved aside ({exc.strerror or exc}), so it was left as it is and not used"


def remove_stale_temp_files(directory: Path | str, *, now: float | None = None,
                            older_than_s: float = STALE_TEMP_S) -> list[Path]:
    """Remove ``.NAME.*.tmp`` files an interrupted :func:`atomic_write_bytes` left in ``directory``.

    Only files of our own naming that have not changed for ``older_than_s`` seconds go (another
    MarginLab may be saving right now). Returns what was removed; never raises.
    """
    removed: list[Path] = []
    now = time.time() if now is None else now
    with contextlib.suppress(OSError):
        for p in Path(directory).glob(".*.tmp"):
            with contextlib.suppress(OSError):
                st = p.lstat()
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than_s and p.name.count(".") >= 3:
                    p.unlink()
                    removed.append(p)
    return removed

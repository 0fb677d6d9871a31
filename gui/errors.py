"""The one place where errors become dialogs, and where unexpected ones are logged.

Expected problems (a refused value, a file that cannot be read) are shown by :func:`show_error`.
Anything else reaches :func:`excepthook`: the traceback goes to ``marginlab.log`` in the user log
directory, one dialog says so (never a cascade of dialogs), and the event loop keeps running.
"""
from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import sys
import traceback
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from gui import paths

log = logging.getLogger("marginlab")
_showing = False


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The log holds tracebacks with file paths and numbers from the user's positions: only the user
    may read it (0600), the current file and every rotated one."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with contextlib.suppress(OSError):
            os.chmod(self.baseFilename, 0o600)  # a log created world-readable by an older version
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging() -> None:
    """Log warnings and errors to ``paths.log_path()`` (rotated at 1 MB, 3 files kept)."""
    path = paths.log_path()
    for h in list(log.handlers):
        if isinstance(h, logging.handlers.RotatingFileHandler):
            if h.baseFilename == str(path.absolute()):
                return
            log.removeHandler(h)  # the user directories moved (tests): follow them
            h.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _PrivateRotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, text)


def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Log the traceback, show one dialog, keep running."""
    global _showing
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    try:
        setup_logging()
        log.error("Unexpected error\n%s", text)
    except OSError:
        pass
    sys.stderr.write(text)
    app = QApplication.instance()
    if app is None or _showing:
        return
    _showing = True
    try:
        box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error",
                          f"Something went wrong: {exc_type.__name__}: {exc}\n\nMarginLab keeps running; "
                          f"the details were written to {paths.log_path()}.")
        box.setDetailedText(text)
        box.exec()
    finally:
        _showing = False


def install() -> None:
    setup_logging()
    sys.excepthook = excepthook

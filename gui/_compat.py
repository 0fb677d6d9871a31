"""Work around a reference-count bug of PySide6 6.12 on Python 3.11.

PySide6 6.12.0 wheels return ``None`` from void C++ methods without taking a reference, which is
harmless on Python >= 3.12 (``None`` is immortal, PEP 683) but on 3.11 drains ``None``'s reference
count by one per call (``QLabel.setText``, ``QProgressBar.setValue``, ...); emitting a ``bool``
signal does the same to ``True``/``False``. ``None`` starts near
4,500 references, so a window that repaints its results a few thousand times aborts with
"Fatal Python error: none_dealloc". Measured here: 100 calls of ``QLabel.setText`` lower
``sys.getrefcount(None)`` by exactly 100.

``None``, ``True`` and ``False`` are static objects that are never freed, so giving it a huge number of extra references is
safe: at a million leaked references a second it would take centuries to drain 2**60. The fix
applies only where it is needed (CPython < 3.12) and is idempotent.
"""
from __future__ import annotations

import ctypes
import sys

_BALLAST = 1 << 60
_applied = False


def keep_none_alive() -> None:
    global _applied
    if _applied or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    for obj in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of PyObject
        if refcnt.value < _BALLAST:
            refcnt.value += _BALLAST
    _applied = True

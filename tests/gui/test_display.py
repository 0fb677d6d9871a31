"""What only a real X display shows: shortcuts pressed as keys, the window's size on a screen.

Marked ``display``: skipped by ``make test``, run by ``make test-display`` under xvfb-run (.ci/run).
"""
from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.display


def _shown(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    return window


def _press(window, sequence: str) -> None:
    seq = QKeySequence(sequence)
    combo = seq[0]
    QTest.keyClick(window, combo.key(), combo.keyboardModifiers())
    QApplication.processEvents()


@pytest.mark.parametrize("redo", ["Ctrl+Shift+Z", "Ctrl+Y"])
def test_undo_and_redo_keys(window, qtbot, redo):
    # issue 9: Ctrl+Shift+Z did nothing ("Ambiguous shortcut overload"), and Ctrl+Y neither
    w = _shown(window, qtbot)
    s = w.session
    s.edit_position(0, leverage=20.0)
    assert s.position.leverage == 20.0
    _press(w, "Ctrl+Z")
    assert s.position.leverage == 10.0
    _press(w, redo)
    assert s.position.leverage == 20.0

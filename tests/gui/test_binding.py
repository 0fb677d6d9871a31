"""The Qt binding must not leak references to None/True/False.

PySide6-Essentials 6.12.0 returned None from void C++ methods without taking a reference (and did
the same to True/False when emitting a bool signal). On Python 3.11, where None is not immortal,
MarginLab aborted with "Fatal Python error: none_dealloc" after a few thousand repaints.
pyproject.toml keeps 6.12 out on Python < 3.12; this test fails on any release that does it again.
"""
from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12), reason="None, True and False are immortal (PEP 683)")


class _Emitter(QObject):
    flag = Signal(bool)


def test_void_calls_keep_none_alive(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2_000):
        label.setText("x")
    assert sys.getrefcount(None) - before > -100  # 6.12.0: exactly -2,000


def test_bool_signals_keep_true_and_false_alive(qtbot):
    e = _Emitter()
    got: list[bool] = []
    e.flag.connect(got.append)
    t0, f0 = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(1_000):
        e.flag.emit(i % 2 == 0)
    got.clear()
    assert sys.getrefcount(True) - t0 > -100
    assert sys.getrefcount(False) - f0 > -100

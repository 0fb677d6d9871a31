"""Fixtures for the Qt suite: a real Session on the shipped profiles and a real main window.

The shared tests/conftest.py already runs Qt offscreen and points HOME and XDG_* at tmp_path, so
autosave, settings and logs land in the test's own folder.
"""
from __future__ import annotations

import pyqtgraph as pg
import pytest

from core.paths import exchanges_dir
from core.profiles import load_profiles
from gui import paths
from gui import settings as S
from gui.main_window import MainWindow
from gui.session import Session
from gui.workspace import example_scenario

# Mouse events must reach the crosshair at once in tests (no rate limiting).
pg.setConfigOptions(mouseRateLimit=-1, antialias=False)


@pytest.fixture(autouse=True)
def _unthrottled_mouse():
    """gui.app.build() (run in-process by the --screenshot tests) sets the app's own rate limit of
    60 moves/s globally; put the test setting back so hover tests don't depend on test order."""
    pg.setConfigOptions(mouseRateLimit=-1, antialias=False)
    yield


def retire(window) -> None:  # type: ignore[no-untyped-def]
    """Put away a window a test started without closing it (gui.app.launch): deleteLater only acts
    when the event loop runs again, and until then its pending autosave (1 s after its start)
    could fire and write into the next test's folders."""
    window.session.live.pause()
    window.autosave_enabled = False
    window._autosave_timer.stop()
    window.writer.wait()
    window.hide()
    window.deleteLater()


@pytest.fixture(scope="session")
def profiles():
    return load_profiles([exchanges_dir()])


@pytest.fixture
def shown(qtbot):
    """Show a widget at a size and wait until it is exposed (its plots have a real geometry)."""
    def show(widget, width: int, height: int):
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        qtbot.waitExposed(widget)
        return widget
    return show


@pytest.fixture
def session(qapp, profiles):
    s = Session(profiles, example_scenario(profiles.get("classic")), seed=7, volatility=0.8, speed=3_600)
    yield s
    s.live.pause()


class Answers:
    """Scripted answers for the window's dialogs, and a record of what it told the user."""

    def __init__(self) -> None:
        self.ask_result = True
        self.save_choice = "discard"
        self.asked: list[str] = []
        self.informed: list[tuple[str, str]] = []


@pytest.fixture
def answers():
    return Answers()


@pytest.fixture
def make_window(qtbot, profiles, answers):
    def make(*, start: bool = True) -> MainWindow:
        settings = S.Settings.load(paths.settings_path())
        s = Session(profiles, example_scenario(profiles.get("classic")), seed=7, volatility=0.8, speed=3_600)
        w = MainWindow(s, settings, autosave=True)
        w.ask = lambda title, text: (answers.asked.append(title), answers.ask_result)[1]  # type: ignore[method-assign]
        w.inform = lambda title, text: answers.informed.append((title, text))  # type: ignore[method-assign]
        w.ask_save = lambda: answers.save_choice  # type: ignore[method-assign]
        qtbot.addWidget(w)
        if start:
            w.start()
        return w
    return make


@pytest.fixture
def window(make_window):
    return make_window()

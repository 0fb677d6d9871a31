"""The application shell: the screenshot option in a fresh process, and unexpected errors."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from core.paths import scenarios_dir
from gui import errors, paths
from gui.app import launch, parse_args
from gui.main_window import MainWindow
from tests.gui.conftest import retire

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_screenshot_option_renders_the_window_offscreen(tmp_path):
    home = tmp_path / "h"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_CONFIG_HOME=str(home / "c"),
               XDG_DATA_HOME=str(home / "d"), XDG_STATE_HOME=str(home / "s"), XDG_CACHE_HOME=str(home / "k"))
    out = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, "-m", "gui.app", "--screenshot", str(out), "--play-seconds", "1"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    img = QImage(str(out))
    assert not img.isNull() and img.width() >= 1000 and img.height() >= 600
    # It neither read nor wrote the user's workspace.
    assert not (home / "d" / "marginlab" / "autosave.json").exists()


@pytest.fixture
def start(qapp, monkeypatch):
    """Start the app as `marginlab ARGS` does (gui.app.launch, no event loop); dialogs recorded."""
    informed: list[tuple[str, str]] = []
    monkeypatch.setattr(MainWindow, "inform", lambda self, title, text: informed.append((title, text)))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # errors.install() replaces it
    windows: list[MainWindow] = []

    def run(*argv: str) -> tuple[MainWindow, list[tuple[str, str]]]:
        _app, window = launch(parse_args(list(argv)))
        windows.append(window)
        return window, informed

    yield run
    for w in windows:
        retire(w)
    qapp.processEvents()


def test_a_file_on_the_command_line_opens_as_the_workspace(start, tmp_path):
    path = tmp_path / "mixed.marginlab.json"
    shutil.copy(scenarios_dir() / "portfolio-mixed.json", path)
    window, informed = start(str(path))
    assert informed == []
    assert window.session.file.path == path.resolve()
    assert window.session.scenario.name == "Binance mixed: isolated BTC, cross ETH"
    assert len(window.session.account.positions) == 2 and window.isVisible()
    assert window.windowTitle().startswith("Binance mixed: isolated BTC, cross ETH (mixed.marginlab.json)")


@pytest.mark.parametrize("content", ["{ not json", None])  # damaged; missing
def test_a_file_that_cannot_be_opened_is_reported_and_the_usual_workspace_opens(start, tmp_path, content):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    window, informed = start(str(path))
    assert [title for title, _ in informed] == ["Could not open the scenario"]
    assert "bad.json" in informed[0][1]
    # The first-launch workspace (no autosave in this test's folders): the example, untitled.
    assert window.session.file.path is None and window.isVisible()
    assert [p.symbol for p in window.session.account.positions] == ["BTCUSDT"]


def test_file_and_scenario_option_are_one_file():
    assert parse_args(["a.json"]).file == parse_args(["--scenario", "a.json"]).file == Path("a.json")
    with pytest.raises(SystemExit):
        parse_args(["a.json", "--scenario", "b.json"])


def test_screenshot_option_reports_a_bad_scenario(tmp_path):
    from gui.app import main

    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["--screenshot", str(tmp_path / "x.png"), "--scenario", str(bad)]) == 2
    assert not (tmp_path / "x.png").exists()


def test_screenshot_tab_option(tmp_path, capsys):
    from gui.app import main

    assert main(["--screenshot", str(tmp_path / "x.png"), "--tab", "Nope"]) == 2
    assert "--tab: 'Nope' is not a tab; choose one of What-if, Events, Payoff, Compare" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    assert main(["--screenshot", str(tmp_path / "c.png"), "--tab", "compare"]) == 0
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_unexpected_error_is_logged_and_shown_once(qapp, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        errors.excepthook(*sys.exc_info())
    assert len(shown) == 1 and "boom in a slot" in shown[0] and str(paths.log_path()) in shown[0]
    log = paths.log_path().read_text(encoding="utf-8")
    assert "RuntimeError: boom in a slot" in log and "Traceback" in log


def test_forced_dark_theme_and_back_to_the_system(qapp):
    from PySide6.QtGui import QPalette

    from gui.theme import apply_theme

    apply_theme("dark")
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
    apply_theme("system")
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 150  # offscreen default is light


def test_other_views_are_built_when_their_tab_is_first_shown(window):
    from gui.widgets.calculators import QtCalculatorPanel
    from gui.widgets.compare import QtCompareView
    from gui.widgets.payoff import QtPayoffView
    from gui.widgets.stress_map import QtStressMap

    tabs = window.tabs
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert titles == ["What-if", "Events", "Payoff", "Compare", "Calculators", "Stress map"]
    for title, cls in (("Payoff", QtPayoffView), ("Compare", QtCompareView), ("Calculators", QtCalculatorPanel),
                       ("Stress map", QtStressMap)):
        i = titles.index(title)
        assert not isinstance(tabs.widget(i), cls)  # not built at start-up
        tabs.setCurrentIndex(i)
        assert isinstance(tabs.widget(i), cls) and tabs.currentIndex() == i and tabs.tabText(i) == title


def test_help_lessons_open_in_the_theatre_window(window, qtbot):
    lessons = window.lessons_menu.actions()
    assert lessons and window.theatre_window is None
    try:
        lessons[0].trigger()
        theatre = window.theatre_window
        assert theatre is not None and theatre.isVisible() and theatre.isWindow() and theatre.parent() is window
        with qtbot.waitSignal(window.theatre_session.resultChanged, timeout=120_000):
            pass
        assert window.theatre_session.file_path == Path(lessons[0].data())
    finally:
        window.theatre_session.close()


def test_no_two_actions_of_the_window_share_a_key(window):
    # issue 9: Redo listed Ctrl+Shift+Z twice (it is also the platform's Redo), which Qt treats as
    # an ambiguous shortcut and ignores. Every key sequence of the window's actions is unique.
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAction

    seen: dict[str, str] = {}
    for act in window.findChildren(QAction):
        if act.shortcutContext() == Qt.ShortcutContext.WidgetShortcut:
            continue
        for seq in act.shortcuts():
            key = seq.toString()
            assert key not in seen, f"{key} is bound to both {seen[key]!r} and {act.text()!r}"
            seen[key] = act.text()
    assert {"Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+Y"} <= set(seen)


def test_the_log_file_is_private(qapp):
    # tracebacks name the user's files and positions: only the user may read the log (issue 10)
    import stat

    errors.setup_logging()
    errors.log.warning("a line")
    mode = stat.S_IMODE(paths.log_path().stat().st_mode)
    assert mode == 0o600, oct(mode)


def test_a_theme_change_reaches_every_chart_and_the_gauge_at_once(qapp):
    # issue 9: after switching to dark the main chart and the gauge stayed white until a restart,
    # and the theatre's charts stayed white always. The window is built as `marginlab` builds it.
    from PySide6.QtGui import QPalette

    from gui.app import build
    from gui.theme import apply_theme

    def plot_bg(plot):
        return plot.backgroundBrush().color().name()

    _app, _settings, _profiles, session, window = build(screenshot=True)
    window.start(restore=False)
    window._theatre(show=True)
    plots = [window.chart.plot, *window.theatre_window.findChildren(type(window.chart.plot))]
    assert len(plots) >= 4  # the live chart, the theatre's price chart, its fund chart, the fan
    try:
        for theme in ("dark", "light", "dark"):
            apply_theme(theme)
            qapp.processEvents()
            base = window.palette().color(QPalette.ColorRole.Base).name()
            assert {plot_bg(p) for p in plots} == {base}, theme
            assert f"background: {base}" in window.results.gauge.styleSheet(), theme
    finally:
        apply_theme("light")
        window.theatre_session.close()
        session.live.pause()
        window.hide()
        window.deleteLater()
        qapp.processEvents()


def test_the_window_can_be_as_small_as_a_1024x700_screen(window):
    # issue 9: the minimum width was 1028 px, and the chart's read-out could raise it further
    hint = window.minimumSizeHint()
    assert hint.width() <= 1000 and hint.height() <= 680, hint
    window.chart.probe_box.setChecked(True)
    window.chart.readout.setText("t 1d 23:59:59  price 1,234,567,890.12  uPnL -123,456,789.01  ratio 99.99 %")
    window.chart.source_label.setText("replaying a-very-long-file-name-of-prices-2026-12-01.csv · 50,000,000 points")
    assert window.minimumSizeHint().width() == hint.width()

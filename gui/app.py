"""Entry point: ``marginlab [FILE]`` opens the window; ``marginlab --screenshot PATH`` renders it to a PNG.

``marginlab FILE`` (what the desktop entry runs for a scenario file) starts as usual, on the last
workspace, and opens FILE over it as File > Open does: unsaved changes are offered to be saved
first, and a file that cannot be read is reported in the usual dialog and leaves the usual
workspace open. ``--install-desktop`` / ``--uninstall-desktop`` add or remove the menu entry, icons
and scenario file type for this user (:mod:`gui.desktop`) and exit.

``--screenshot PATH [FILE] [--play-seconds N]`` builds the real main window offscreen (it sets
``QT_QPA_PLATFORM=offscreen`` unless a platform is given), opens FILE or the first-launch example,
plays N seconds of the feed at the default speed (deterministically: N x 60 frames), saves the
window to PATH and exits. It reads no autosave and writes none, so it never disturbs a user's
workspace. ``--scenario FILE`` is another spelling of FILE.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

_T0 = time.perf_counter()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="marginlab", description="Perpetual-futures margin and liquidation workbench.")
    ap.add_argument("file", nargs="?", metavar="FILE", type=Path, help="a scenario file to open")
    ap.add_argument("--scenario", metavar="FILE", type=Path, help="the same as FILE")
    ap.add_argument("--install-desktop", action="store_true",
                    help="add MarginLab to the applications menu, with its icon and scenario file type, "
                         "for this user (in $XDG_DATA_HOME or ~/.local/share), and exit")
    ap.add_argument("--uninstall-desktop", action="store_true", help="remove what --install-desktop added, and exit")
    ap.add_argument("--screenshot", metavar="PATH", type=Path, help="render the main window to PATH (PNG) and exit")
    ap.add_argument("--play-seconds", metavar="N", type=float, default=0.0,
                    help="with --screenshot: play the feed for N seconds of playback first")
    ap.add_argument("--tab", metavar="NAME", help="with --screenshot: show this bottom tab (What-if, Events, "
                                                  "Payoff, Compare, Calculators, Stress map)")
    ap.add_argument("--size", metavar="WxH", help="with --screenshot: the window's size, e.g. 1440x900 "
                                                  "(default: its first-launch size)")
    ap.add_argument("--theme", choices=("light", "dark"), help="with --screenshot: render in this theme")
    ap.add_argument("--startup-probe", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.file is not None and args.scenario is not None and args.file != args.scenario:
        ap.error("give the scenario file once: FILE or --scenario FILE")
    args.file = args.file or args.scenario
    if args.play_seconds < 0 or args.play_seconds > 3600:
        ap.error(f"--play-seconds must lie in [0, 3600], got {args.play_seconds:g}")
    if args.size is not None:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            ap.error(f"--size: expected WIDTHxHEIGHT such as 1440x900, got {args.size!r}")
        if not (320 <= w <= 8192 and 240 <= h <= 8192):
            ap.error(f"--size: width in [320, 8192] and height in [240, 8192], got {args.size}")
        args.size = (w, h)
    return args


def build(*, screenshot: bool = False) -> tuple[Any, Any, Any, Any, Any]:
    """QApplication, settings, profiles, session and main window (not shown)."""
    # PySide6 before pyqtgraph, so pyqtgraph binds to it; options once, before any widget exists.
    import pyqtgraph as pg
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    pg.setConfigOptions(antialias=True, useOpenGL=False, mouseRateLimit=60)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("MarginLab")
    app.setApplicationDisplayName("MarginLab")
    QGuiApplication.setDesktopFileName("marginlab")

    from core.paths import exchanges_dir
    from core.persistence import remove_stale_temp_files
    from core.profiles import load_profiles
    from gui import errors, paths
    from gui import settings as S
    from gui.main_window import MainWindow, app_icon
    from gui.session import Session
    from gui.theme import apply_theme
    from gui.workspace import example_scenario

    if not screenshot:
        # before any user file is read: whatever goes wrong from here on is one dialog and a log line
        errors.install()
        for folder in (paths.config_dir(), paths.data_dir(), paths.user_exchanges_dir()):
            remove_stale_temp_files(folder)  # what a save interrupted by a crash or a kill left behind
    settings = S.Settings.load(paths.settings_path())
    apply_theme(settings.get(S.THEME))
    app.setWindowIcon(app_icon())
    profiles = load_profiles([exchanges_dir(), paths.user_exchanges_dir()])
    pid = settings.get(S.DEFAULT_PROFILE) if settings.get(S.DEFAULT_PROFILE) in profiles.profiles else "classic"
    session = Session(profiles, example_scenario(profiles.get(pid)), seed=settings.get(S.FEED_SEED),
                      volatility=settings.get(S.FEED_VOLATILITY), speed=settings.get(S.FEED_SPEED))
    window = MainWindow(session, settings, autosave=not screenshot)
    return app, settings, profiles, session, window


def screenshot(args: argparse.Namespace) -> int:
    app, _settings, _profiles, session, window = build(screenshot=True)
    try:
        return _render(args, app, session, window)
    finally:
        # Hide rather than close: no close-time side effects (geometry, prompts) for a render, and an
        # in-process caller (the tests) is not left with a shown window over its own widgets.
        session.live.pause()
        window.hide()
        window.deleteLater()
        app.processEvents()


def _render(args: argparse.Namespace, app: Any, session: Any, window: Any) -> int:
    from core.errors import MarginEngineError

    if args.file is not None:
        try:
            session.file.open(args.file)
        except (MarginEngineError, OSError) as exc:
            print(f"marginlab: {exc}", file=sys.stderr)
            return 2
    else:
        window.start(restore=False)
    if args.theme is not None:
        from gui.theme import apply_theme

        apply_theme(args.theme)
    if args.size is not None:
        window.resize(*args.size)
    window.show()
    app.processEvents()
    if args.tab:
        names = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        matches = [i for i, n in enumerate(names) if n.replace("&", "").lower() == args.tab.lower()]
        if not matches:
            print(f"marginlab: --tab: {args.tab!r} is not a tab; choose one of {', '.join(names)}", file=sys.stderr)
            return 2
        window.tabs.setCurrentIndex(matches[0])
        app.processEvents()
    for _ in range(round(args.play_seconds * 60)):
        session.live.step_frame()
        if session.live.liquidations:
            break
    app.processEvents()
    window.results.flush_details()  # the Arithmetic pane's throttled update, written now, not in 0.2 s
    window.repaint()
    app.processEvents()
    args.screenshot.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(args.screenshot), "PNG"):
        print(f"marginlab: could not write {args.screenshot}", file=sys.stderr)
        return 1
    print(args.screenshot)
    return 0


def startup_probe() -> int:
    """Benchmark helper: print the seconds from process start to the first painted window."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QWidget

    app, _settings, _profiles, _session, window = build(screenshot=True)
    window.start(restore=False)

    def done() -> None:
        print(f"{time.perf_counter() - _T0:.6f} {time.process_time():.6f}", flush=True)
        app.quit()

    class _FirstPaint(QObject):
        def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
            if ev.type() == QEvent.Type.Paint and isinstance(obj, QWidget) and obj.window() is window:
                app.removeEventFilter(self)
                QTimer.singleShot(0, done)  # runs once the whole first frame is painted
            return False

    f = _FirstPaint()
    app.installEventFilter(f)
    window.show()
    return app.exec()


def launch(args: argparse.Namespace) -> tuple[Any, Any]:
    """The usual start short of the event loop: the last workspace, FILE opened over it, shown."""
    app, settings, profiles, _session, window = build()
    window.start(restore=True)
    if args.file is not None:
        window.open_file(args.file)  # reports a file it cannot open; the workspace stays
    window.show()
    problems = [settings.problem] if settings.problem else []
    problems += [f"{e} (this profile file was not loaded)" for e in profiles.errors]
    if problems:
        window.inform("Some files were not used", "\n\n".join(problems))
    if profiles.notices:
        window.statusBar().showMessage("; ".join(profiles.notices), 15_000)
    return app, window


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.install_desktop or args.uninstall_desktop:
        from gui import desktop

        return desktop.main(remove=args.uninstall_desktop, argv0=sys.argv[0])
    if args.screenshot is not None or args.startup_probe:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.startup_probe:
        return startup_probe()
    if args.screenshot is not None:
        return screenshot(args)
    app, _window = launch(args)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())

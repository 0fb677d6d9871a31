"""Render the theatre window to PNGs at given sizes, to look at its layout (offscreen).

Run ``.venv/bin/python benchmarks/theatre_window.py [--lesson NAME] [--cursor T] [--tab I] OUT_DIR``:
it opens the lesson in a :class:`gui.widgets.theatre_window.QtTheatreWindow`, moves the cursor,
and for each size (1440 x 900 and 1024 x 700) resizes the window, grabs it and writes
``theatre-<lesson>-<w>x<h>.png``; it prints each file with the window's size as grabbed and the
height of the two charts, so a layout that widens the window or squashes a chart shows in numbers.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = ((1920, 1080), (1440, 900), (1024, 700))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--lesson", default="lesson-fund-exhausted-adl.json")
    ap.add_argument("--cursor", type=float, default=None, help="cursor time (s); default: the last event")
    ap.add_argument("--tab", type=int, default=0, help="index of the lower tab to show")
    ap.add_argument("--theme", choices=("light", "dark"), default="light")
    args = ap.parse_args(argv)

    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    pg.setConfigOptions(antialias=True)
    app = QApplication.instance() or QApplication([])
    from core.paths import exchanges_dir, scenarios_dir
    from core.profiles import load_profiles
    from gui.theatre import TheatreSession
    from gui.theme import apply_theme
    from gui.widgets.theatre_window import QtTheatreWindow

    apply_theme(args.theme)
    session = TheatreSession(load_profiles([exchanges_dir()]))
    win = QtTheatreWindow(session)
    session.open_file(scenarios_dir() / args.lesson)
    session.wait_idle()
    tl = session.timeline
    session.seek(args.cursor if args.cursor is not None else (tl.event_t[-1] if len(tl.event_t) else tl.t_end))
    win.view.tabs.setCurrentIndex(args.tab)
    args.out.mkdir(parents=True, exist_ok=True)
    for w, h in SIZES:
        win.resize(w, h)
        win.show()
        for _ in range(5):
            app.processEvents()
        img = win.grab()
        path = args.out / f"theatre-{Path(args.lesson).stem}-{w}x{h}-{args.theme}.png"
        img.save(str(path))
        print(f"{path}: grabbed {img.width()}x{img.height()}, price chart {win.view.chart.plot.height()} px, "
              f"lower tab {win.view.tabs.currentWidget().height()} px; minimum {win.minimumSizeHint().width()}x"
              f"{win.minimumSizeHint().height()}")
    session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

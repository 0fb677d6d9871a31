"""How responsive is the desktop app? Three figures, measured offscreen in one run.

* **edit_ms**: median time from a leverage change in the form to the results and the chart updated
  and painted (the command is pushed, core re-quotes, the widgets refresh, the event loop paints),
  over 200 edits that alternate between leverages. Target <= 16 ms (one 60 Hz frame).
* **frame_ms**: median time of one playback frame with 1,000,000 points of history: append the
  frame's points (default speed, 1 simulated hour per second = 60 points per frame), check for a
  liquidation, re-quote, update the curve and the levels, paint. Target <= 16 ms.
* **startup_ratio**: cold start of ``marginlab`` to its first painted window, divided by the cold
  start of a bare PySide6 + pyqtgraph window (a QMainWindow holding one PlotWidget), each in a fresh
  process, medians of 5 alternating runs. Target <= 1.5.

Usage::

    QT_QPA_PLATFORM=offscreen python benchmarks/gui.py          # a short report for people
    QT_QPA_PLATFORM=offscreen python benchmarks/gui.py --json   # {"edit_ms": ..., "frame_ms": ..., "startup_ratio": ...}
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE_WINDOW = r"""
import sys, time
t0 = time.perf_counter()
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
import pyqtgraph as pg
app = QApplication(sys.argv[:1])
w = QMainWindow()
w.resize(1440, 900)
w.setCentralWidget(pg.PlotWidget())
class F(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and getattr(obj, "window", None) and obj.window() is w:
            app.removeEventFilter(self)
            QTimer.singleShot(0, done)  # runs once the whole first frame is painted
        return False
def done():
    print(f"{time.perf_counter() - t0:.6f}", flush=True)
    app.quit()
f = F()
app.installEventFilter(f)
w.show()
app.exec()
"""


def _isolated_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"),
               XDG_CACHE_HOME=str(home / "cache"))
    return env


def _cold_start(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning the process to the line it prints at its first paint."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    t1 = time.perf_counter()
    proc.wait(timeout=60)
    if not line.strip():
        raise RuntimeError(f"{cmd} printed nothing")
    return t1 - t0


def startup_ratio(runs: int = 5) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = _isolated_env(Path(tmp))
        app_cmd = [sys.executable, "-m", "gui.app", "--startup-probe"]
        bare_cmd = [sys.executable, "-c", BARE_WINDOW]
        _cold_start(bare_cmd, env)  # warm the file cache for both, so neither pays it alone
        _cold_start(app_cmd, env)
        app_t, bare_t = [], []
        for _ in range(runs):
            bare_t.append(_cold_start(bare_cmd, env))
            app_t.append(_cold_start(app_cmd, env))
    a, b = statistics.median(app_t), statistics.median(bare_t)
    return a / b, a, b


def in_process() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(_isolated_env(Path(tmp)))
        from gui.app import build

        app, _settings, _profiles, session, window = build(screenshot=True)
        window.start(restore=False)
        window.show()
        for _ in range(5):
            app.processEvents()

        # ---- edits: leverage 10x <-> 20x ... through the form, as a user would
        edits = []
        levels = [10.0 + (i % 20) for i in range(201)]
        for lev in levels[1:]:
            t0 = time.perf_counter()
            window.form.leverage.setValue(lev)
            app.processEvents()
            edits.append(time.perf_counter() - t0)
            assert window.session.position.leverage == lev
        assert window.chart.liq_line.value() == window.session.position_quote.liquidation_price

        # ---- playback frames over a million points of history
        window.form.leverage.setValue(2.0)  # far from liquidation, so the stream never stops
        session.feed.fill_history(1_000_000)
        session.advance(1)
        app.processEvents()
        frames = []
        for _ in range(300):
            t0 = time.perf_counter()
            session.step_frame()
            app.processEvents()
            frames.append(time.perf_counter() - t0)
        assert session.feed.n >= 1_000_000 + 300 * 60
        session.pause()
        return statistics.median(edits) * 1e3, statistics.median(frames) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    edit_ms, frame_ms = in_process()
    ratio, app_s, bare_s = startup_ratio()
    if args.json:
        print(json.dumps({"edit_ms": round(edit_ms, 3), "frame_ms": round(frame_ms, 3),
                          "startup_ratio": round(ratio, 3)}))
        return 0
    print(f"edit -> results and chart painted : {edit_ms:7.2f} ms median over 200 edits (target <= 16)")
    print(f"playback frame, 1,000,000 points  : {frame_ms:7.2f} ms median over 300 frames (target <= 16)")
    print(f"cold start to first paint         : {app_s * 1e3:7.0f} ms vs bare PySide6 + pyqtgraph "
          f"{bare_s * 1e3:.0f} ms = {ratio:.2f}x (target <= 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

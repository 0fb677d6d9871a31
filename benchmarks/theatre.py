"""The scenario theatre: a screenshot for the docs and the figures the docs quote.

Run ``.venv/bin/python benchmarks/theatre.py [--screenshot docs/theatre.png] [--lesson NAME]``
(offscreen). It opens every shipped lesson in a :class:`gui.theatre.TheatreSession` and prints the
time to open and run each one (three simulations: the file, and the isolated and cross versions,
plus the timeline), compared with one bare ``core.simulate.run_scenario`` of the same file measured
in the same run; then the Monte Carlo fan's paths per second in the GUI worker against a bare
``core.prices.gbm_paths`` call of the same size; then renders the theatre to a PNG.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--screenshot", type=Path, default=None)
    ap.add_argument("--lesson", default="lesson-faq-crash.json")
    ap.add_argument("--tab", type=int, default=0, help="index of the lower tab to show in the screenshot")
    ap.add_argument("--cursor", type=float, default=None, help="cursor time for the screenshot (s)")
    args = ap.parse_args(argv)

    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    pg.setConfigOptions(antialias=True)
    app = QApplication.instance() or QApplication([])
    import numpy as np

    from core.paths import exchanges_dir, scenarios_dir
    from core.prices import gbm_paths
    from core.profiles import load_profiles
    from core.scenario import load_scenario
    from core.simulate import run_scenario
    from gui.theatre import TheatreSession
    from gui.widgets.theatre_view import QtTheatreView

    profiles = load_profiles([exchanges_dir()])
    session = TheatreSession(profiles)
    view = QtTheatreView(session)
    view.resize(1400, 900)
    view.show()
    print(f"{'lesson':<42} {'bare run':>9} {'worker':>9} {'ratio':>6} {'+widgets+paint':>15}  (ms)")
    for f in sorted(scenarios_dir().glob("lesson-*.json")):
        sc = load_scenario(f)
        t0 = time.perf_counter()
        run_scenario(sc, profiles, base_dir=f.parent)
        bare = time.perf_counter() - t0
        t0 = time.perf_counter()
        session.open_file(f)
        session.wait_idle()
        full = time.perf_counter() - t0
        worker = session.run_seconds  # the file, its isolated and cross versions, and the timeline
        print(f"{f.name:<42} {bare * 1e3:>9.1f} {worker * 1e3:>9.1f} {worker / bare:>6.1f} {full * 1e3:>15.1f}")

    # a long path: the FAQ's account over 1,000,000 one-second GBM ticks
    from dataclasses import replace

    from core.simspec import simulation_from_dict

    big = replace(load_scenario(scenarios_dir() / "lesson-faq-crash.json"),
                  simulation=simulation_from_dict({"path": {"kind": "gbm", "s0": 68_000, "sigma": 0.8, "dt": 1,
                                                            "n": 1_000_000, "seed": 4}, "insurance_fund": 0}))
    t0 = time.perf_counter()
    run_scenario(big, profiles)
    bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    session.open_scenario(big)
    session.wait_idle(60)
    full = time.perf_counter() - t0
    print(f"{'1,000,000-tick GBM path':<42} {bare * 1e3:>9.1f} {session.run_seconds * 1e3:>9.1f} "
          f"{session.run_seconds / bare:>6.1f} {full * 1e3:>15.1f}   ({len(session.result.events)} events)")
    t0 = time.perf_counter()
    for k in range(100):
        session.seek(k * 10_000.0)
        app.processEvents()
    print(f"seek + panels + repaint on the 1,000,000-tick path: {(time.perf_counter() - t0) * 10:.1f} ms per move")

    session.open_file(scenarios_dir() / "lesson-faq-crash.json")
    session.wait_idle()
    n_paths, n_steps = 20_000, 200
    t0 = time.perf_counter()
    gbm_paths(s0=68_000, mu=0.0, sigma=0.8 / np.sqrt(365 * 86400.0), dt=432.0, n=n_steps, n_paths=n_paths, seed=1)
    bare = time.perf_counter() - t0
    got: list = []
    session.fanFinished.connect(got.append)
    t0 = time.perf_counter()
    session.start_fan(sigma=0.8, horizon_s=86_400.0, n_paths=n_paths, n_steps=n_steps)
    while not got and time.perf_counter() - t0 < 60:
        app.processEvents()
        time.sleep(0.001)
    wall = time.perf_counter() - t0
    fan = got[0]
    print(f"fan: {n_paths:,} paths x {n_steps} steps: worker {fan.seconds:.3f} s "
          f"({fan.paths_per_second:,.0f} paths/s), wall incl. quantiles and delivery {wall:.3f} s; "
          f"bare gbm_paths {bare:.3f} s ({n_paths / bare:,.0f} paths/s); ratio {wall / bare:.1f}x; "
          f"touched LP {fan.touch_fraction:.3%} vs closed form {fan.closed_form:.3%}")

    if args.screenshot is not None:
        session.open_file(scenarios_dir() / args.lesson)
        session.wait_idle()
        tl = session.timeline
        session.seek(args.cursor if args.cursor is not None else (tl.event_t[-1] if len(tl.event_t) else tl.t_end))
        view.tabs.setCurrentIndex(args.tab)
        view.risk.start()
        t0 = time.perf_counter()
        while session.fan_running and time.perf_counter() - t0 < 60:
            app.processEvents()
            time.sleep(0.001)
        for _ in range(5):
            app.processEvents()
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        view.grab().save(str(args.screenshot))
        print(f"wrote {args.screenshot}")
    session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How fast is the liquidation waterfall over a long price path, and the Monte Carlo of paths?

1. **Simulator vs bare numpy.** A 1,000,000-tick seeded path (GBM at 30 % annual volatility on 1 s
   steps around 68,000, then a linear crash over the last 10,000 ticks) carries one isolated
   Binance BTCUSDT long (10 BTC at 68,000, 10x) that is liquidated near the end.
   :func:`core.simulate.simulate` runs the whole waterfall (engine-confirmed trigger, tier
   step-down, book fill, fund settlement, ledger). The baseline, measured in the same run over the
   same arrays, is a bare numpy pass: equity ``M + q*(mark - EP)`` minus the mark-basis maintenance
   margin ``MMR_k*q*mark - cum_k`` (tier by ``searchsorted``) and the first index below zero.
   Target: simulator <= 5x the bare pass. The simulator gets there by finding the first candidate
   tick with one numpy pass per state; only event ticks go through Python.
2. **Monte Carlo.** 10,000 seeded GBM paths of 1,000 steps (:func:`core.prices.gbm_paths`) and
   each path's minimum (what a touch-probability estimate needs): paths per second.

Each figure is the best of several repeats.

Usage::

    python benchmarks/simulate.py          # a short report for people
    python benchmarks/simulate.py --json   # {"ratio_vs_numpy": ..., "mc_paths_per_s": ..., ...}
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of

from core.model import Account, Position, Side
from core.paths import exchanges_dir
from core.prices import SECONDS_PER_YEAR, PricePath, gbm_path, gbm_paths, time_grid
from core.profiles import load_profiles
from core.quote import position_margin
from core.simulate import simulate

N_TICKS = 1_000_000
CRASH_TICKS = 10_000
MC_PATHS = 10_000
MC_STEPS = 1_000
SEED = 20241024
TARGET_RATIO_VS_NUMPY = 5.0


def make_path(n: int = N_TICKS) -> PricePath:
    sigma = 0.30 / math.sqrt(SECONDS_PER_YEAR)
    walk = gbm_path(s0=68_000.0, mu=0.0, sigma=sigma, dt=1.0, n=n - CRASH_TICKS, seed=SEED)
    crash = np.linspace(walk[-1], 55_000.0, CRASH_TICKS)
    return PricePath.from_mark(time_grid(n=n - 1, dt=1.0), np.concatenate([walk[:-1], crash]))


def run(repeats: int = 5) -> dict[str, Any]:
    profile = load_profiles([exchanges_dir()]).get("binance")
    pos = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=10.0, entry_price=68_000.0, leverage=10.0)
    account = Account(profile_id="binance", positions=(pos,))
    path = make_path()
    mark = path.mark
    tiers = profile.effective_tiers("BTCUSDT")
    q, ep, margin = pos.qty_base, pos.entry_price, position_margin(profile, pos)

    def sim() -> Any:
        return simulate(profile, account, path)

    def bare() -> int:
        notional = q * mark
        k = np.searchsorted(tiers.floor, notional, side="right") - 1
        deficit = margin + q * (mark - ep) - (tiers.mmr[k] * notional - tiers.cum[k])
        below = deficit < 0
        return int(np.argmax(below)) if below.any() else -1

    res = sim()
    first = bare()
    trig = res.events_of("liquidation_triggered")
    if not trig or int(trig[0].t) != first:
        raise SystemExit(f"simulate: trigger tick {trig[0].t if trig else None} != bare numpy {first}")
    t_sim = best_of(sim, repeats)
    t_bare = best_of(bare, repeats)

    def mc() -> np.ndarray:
        paths = gbm_paths(s0=68_000.0, mu=0.0, sigma=0.8, dt=1.0 / (365 * MC_STEPS), n=MC_STEPS,
                          n_paths=MC_PATHS, seed=SEED)
        return paths.min(axis=1)

    t_mc = best_of(mc, max(1, repeats // 2))
    ratio = t_sim / t_bare
    return {
        "ratio_vs_numpy": ratio,
        "mc_paths_per_s": MC_PATHS / t_mc,
        "ticks": len(path),
        "trigger_tick": first,
        "events": len(res.events),
        "simulate_s": t_sim,
        "bare_numpy_s": t_bare,
        "mc_paths": MC_PATHS,
        "mc_steps": MC_STEPS,
        "mc_s": t_mc,
        "target_ratio_vs_numpy": TARGET_RATIO_VS_NUMPY,
        "meets_target": bool(ratio <= TARGET_RATIO_VS_NUMPY),
        "numpy": np.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Time the liquidation waterfall and the Monte Carlo of paths.")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--repeats", type=int, default=5, help="best of this many runs (default 5)")
    args = ap.parse_args(argv)
    r = run(repeats=max(1, args.repeats))
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"liquidation waterfall, {r['ticks']:,} ticks, binance BTCUSDT 10 BTC long, "
          f"triggered at tick {r['trigger_tick']:,} ({r['events']} events)")
    print(f"  core.simulate.simulate          {r['simulate_s'] * 1e3:9.1f} ms")
    print(f"  bare numpy equity - MM          {r['bare_numpy_s'] * 1e3:9.1f} ms   "
          f"ratio {r['ratio_vs_numpy']:.2f}x (target <= {TARGET_RATIO_VS_NUMPY:g}x)")
    print(f"Monte Carlo, {r['mc_paths']:,} GBM paths x {r['mc_steps']:,} steps: {r['mc_s']:.2f} s, "
          f"{r['mc_paths_per_s']:,.0f} paths/s")
    print(f"  best of {args.repeats} runs; target met: {'yes' if r['meets_target'] else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

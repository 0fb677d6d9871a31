"""How fast is the liquidation solver over a whole book of positions?

Solves the liquidation price of 1,000,000 random positions (seeded; long and short; notionals from
1,000 to 1.5 billion USDT so that every Binance BTCUSDT bracket is used; leverage drawn up to each
bracket's maximum) under the shipped ``binance`` profile: mark-basis maintenance margin with the
bracket re-selected at the liquidation notional, i.e. :func:`core.liquidation.liquidation_price`
with the profile's rules. Two baselines are measured in the same run:

* **bare numpy**: the single-tier closed form ``LP = (s*q*EP - WB - cum) / (q*(s - MMR))`` over the
  same arrays, with one fixed MMR and amount. This is the floor: no tier lookup at all.
* **Python loop**: the scalar path, one ``liquidation_price`` call per position. Timing a million
  calls would take minutes, so the loop runs over the first 20,000 positions and its per-position
  cost is scaled to 1,000,000 (said in the output).

Each figure is the best of several repeats. Targets: engine <= 3x bare numpy, >= 30x the loop.

Usage::

    python benchmarks/engine.py          # a short report for people
    python benchmarks/engine.py --json   # {"ratio_vs_numpy": ..., "speedup_vs_loop": ..., ...}
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of

from core.liquidation import liquidation_price
from core.paths import exchanges_dir
from core.profiles import load_profiles
from core.tiers import TierTable

N_POSITIONS = 1_000_000
N_LOOP = 20_000
SEED = 20241024
TARGET_RATIO_VS_NUMPY = 3.0
TARGET_SPEEDUP_VS_LOOP = 30.0


def make_positions(tiers: TierTable, n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Random isolated positions that the exchange would accept.

    Notional is log-uniform over [1e3, 0.99 * the last cap] so that every bracket is hit; leverage
    is uniform in [1, bracket max] (and below 1/MMR, which only matters for the last brackets); the
    isolated margin is the opening margin ``q*EP/L`` times a factor in [0.8, 1.5] (extra margin, or
    some of it eaten by fees).
    """
    rng = np.random.default_rng(seed)
    side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    entry = rng.uniform(20_000.0, 100_000.0, n)
    notional = np.exp(rng.uniform(np.log(1e3), np.log(0.99 * tiers.max_notional), n))
    qty = notional / entry
    k = tiers.index(qty * entry)
    max_lev = np.minimum(tiers.max_leverage[k], 0.99 / tiers.mmr[k])
    leverage = 1.0 + rng.random(n) * np.maximum(max_lev - 1.0, 0.0)
    wallet = qty * entry / leverage * rng.uniform(0.8, 1.5, n)
    return {"side": side, "qty": qty, "entry": entry, "wallet": wallet, "tier": k}


def run(n: int = N_POSITIONS, n_loop: int = N_LOOP, repeats: int = 7) -> dict[str, Any]:
    profile = load_profiles([exchanges_dir()]).get("binance")
    rules = profile.rules
    tiers = profile.effective_tiers("BTCUSDT")
    pos = make_positions(tiers, n)
    s, q, ep, wb = pos["side"], pos["qty"], pos["entry"], pos["wallet"]

    def engine() -> np.ndarray:
        return liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers,
                                 mm_basis=rules.mm_basis, fee_model=rules.fee_model,
                                 taker_fee=rules.taker_fee,
                                 tier_at_liquidation=rules.tier_at_liquidation)

    mmr0, cum0 = float(tiers.mmr[2]), float(tiers.cum[2])

    def bare() -> np.ndarray:
        lp = (s * q * ep - wb - cum0) / (q * (s - mmr0))
        return np.where(lp > 0, lp, np.nan)

    def loop() -> list[float]:
        return [liquidation_price(side=float(s[i]), qty=float(q[i]), entry=float(ep[i]),
                                  wallet=float(wb[i]), tiers=tiers, mm_basis=rules.mm_basis,
                                  fee_model=rules.fee_model, taker_fee=rules.taker_fee,
                                  tier_at_liquidation=rules.tier_at_liquidation)
                for i in range(n_loop)]

    # Same answers both ways, or the timing means nothing.
    vec = engine()
    scalar = np.array(loop())
    if not np.array_equal(vec[:n_loop], scalar, equal_nan=True):
        raise SystemExit("engine: the array path and the scalar path disagree")

    engine()  # warm caches before timing
    bare()
    t_engine = best_of(engine, repeats)
    t_bare = best_of(bare, repeats)
    t_loop = best_of(loop, max(2, repeats // 3))
    t_loop_scaled = t_loop / n_loop * n
    ratio = t_engine / t_bare
    speedup = t_loop_scaled / t_engine
    return {
        "ratio_vs_numpy": ratio,
        "speedup_vs_loop": speedup,
        "positions": n,
        "tiers_used": int(np.unique(pos["tier"]).size),
        "tiers_in_table": len(tiers),
        "engine_s": t_engine,
        "bare_numpy_s": t_bare,
        "loop_positions_timed": n_loop,
        "loop_s_scaled": t_loop_scaled,
        "loop_us_per_position": t_loop / n_loop * 1e6,
        "no_liquidation_price": int(np.isnan(vec).sum()),
        "target_ratio_vs_numpy": TARGET_RATIO_VS_NUMPY,
        "target_speedup_vs_loop": TARGET_SPEEDUP_VS_LOOP,
        "meets_targets": bool(ratio <= TARGET_RATIO_VS_NUMPY and speedup >= TARGET_SPEEDUP_VS_LOOP),
        "numpy": np.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Time the liquidation solver over 1,000,000 positions.")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--repeats", type=int, default=7, help="best of this many runs (default 7)")
    args = ap.parse_args(argv)
    r = run(repeats=max(1, args.repeats))
    if args.json:
        print(json.dumps(r))
        return 0
    ok = "yes" if r["meets_targets"] else "NO"
    print(f"liquidation prices, {r['positions']:,} positions, binance BTCUSDT "
          f"({r['tiers_used']} of {r['tiers_in_table']} brackets used, tier at the liquidation price)")
    print(f"  engine (core.liquidation)      {r['engine_s'] * 1e3:9.1f} ms")
    print(f"  bare numpy, one tier           {r['bare_numpy_s'] * 1e3:9.1f} ms   "
          f"ratio {r['ratio_vs_numpy']:.2f}x (target <= {TARGET_RATIO_VS_NUMPY:g}x)")
    print(f"  Python loop, scalar path       {r['loop_s_scaled']:9.1f} s    "
          f"speedup {r['speedup_vs_loop']:,.0f}x (target >= {TARGET_SPEEDUP_VS_LOOP:g}x)")
    print(f"    (loop timed over {r['loop_positions_timed']:,} positions, "
          f"{r['loop_us_per_position']:.1f} us each, scaled to {r['positions']:,})")
    print(f"  best of {args.repeats} runs; targets met: {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How fast is the liquidation solver, on a whole book and on one position?

Solves the liquidation price of random positions (seeded; long and short; notionals from 1,000 to
1.78 billion USDT so that every Binance BTCUSDT bracket is used; leverage drawn up to each
bracket's maximum) under the shipped ``binance`` profile: mark-basis maintenance margin with the
bracket re-selected at the liquidation notional, i.e. :func:`core.liquidation.liquidation_price`
with the profile's rules, at 10,000, 100,000, 1,000,000 and 10,000,000 positions. Two baselines
are measured in the same run:

* **bare numpy**: the single-tier closed form ``LP = (s*q*EP - WB - cum) / (q*(s - MMR))`` over the
  same arrays, with one fixed MMR and amount, NaN where not positive. This is the floor: no tier
  lookup at all.
* **Python loop**: the scalar path, one ``liquidation_price`` call per position with plain floats.
  It runs over the first 20,000 positions and its per-position cost is scaled to 1,000,000 (said in
  the output); its answers are checked to equal the array call's, bit for bit, first.

It also times :func:`core.quote.quote_account`, what the window runs on every edit, on the source
FAQ position (5 BTC long at 68,000, 10x, classic profile) and on a 4-position cross account
(binance).

Timing: CPU time of this thread (so that other processes on a shared machine do not count), best
of many rounds that call the engine and the baseline in turn (so that a burst of contention falls
on both). Targets: the engine at most 2x the bare numpy time at every size; the array call at
least 30x faster than the loop.

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

from timing import best_cpu_interleaved

from core.liquidation import liquidation_price
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import load_profiles
from core.quote import quote_account
from core.tiers import TierTable

SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
HEADLINE = 1_000_000  # the size the top-level keys (ratio_vs_numpy, engine_s, ...) describe
N_LOOP = 20_000
SEED = 20241024
TARGET_RATIO_VS_NUMPY = 2.0
TARGET_SPEEDUP_VS_LOOP = 30.0
CPU_BUDGET_S = 4.0  # rounds per size: about this much CPU time in all, at least 5 rounds


def make_positions(tiers: TierTable, n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Random isolated positions that the exchange would accept.

    Notional is log-uniform over [1e3, 0.99 * the last cap] (at most 2e9) so that every bracket is
    hit; leverage is uniform in [1, bracket max] (and below 1/MMR, which only matters for the last
    brackets); the isolated margin is the opening margin ``q*EP/L`` times a factor in [0.8, 1.5]
    (extra margin, or some of it eaten by fees).
    """
    rng = np.random.default_rng(seed)
    side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    entry = rng.uniform(20_000.0, 100_000.0, n)
    notional = np.exp(rng.uniform(np.log(1e3), np.log(0.99 * min(tiers.max_notional, 2e9)), n))
    qty = notional / entry
    k = tiers.index(qty * entry)
    max_lev = np.minimum(tiers.max_leverage[k], 0.99 / tiers.mmr[k])
    leverage = 1.0 + rng.random(n) * np.maximum(max_lev - 1.0, 0.0)
    wallet = qty * entry / leverage * rng.uniform(0.8, 1.5, n)
    return {"side": side, "qty": qty, "entry": entry, "wallet": wallet, "tier": k}


def _time_size(n: int, tiers: TierTable, kw: dict[str, Any], cpu_budget_s: float) -> dict[str, Any]:
    pos = make_positions(tiers, n)
    s, q, ep, wb = pos["side"], pos["qty"], pos["entry"], pos["wallet"]
    mmr0, cum0 = float(tiers.mmr[2]), float(tiers.cum[2])

    def engine() -> np.ndarray:
        return liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, **kw)

    def bare() -> np.ndarray:
        lp = (s * q * ep - wb - cum0) / (q * (s - mmr0))
        return np.where(lp > 0, lp, np.nan)

    lp = engine()
    bare()  # warm caches, build the bucket table
    t_bare = best_cpu_interleaved({"bare": bare}, 1)["bare"]
    rounds = max(5, min(5000, int(cpu_budget_s / (3 * t_bare + 1e-9))))
    best = best_cpu_interleaved({"engine": engine, "bare": bare}, rounds)
    return {"positions": n, "engine_s": best["engine"], "bare_numpy_s": best["bare"],
            "ratio_vs_numpy": best["engine"] / best["bare"], "rounds": rounds,
            "tiers_used": int(np.unique(pos["tier"]).size), "no_liquidation_price": int(np.isnan(lp).sum()),
            "arrays": (s, q, ep, wb, lp)}


def _quote_timings() -> dict[str, float]:
    """CPU microseconds of core.quote.quote_account: the FAQ position, a 4-position cross account."""
    ps = load_profiles([exchanges_dir()])
    faq = Account("classic", 0.0, (Position("BTCUSDT", Side.LONG, 5, 68_000, 10),),
                  marks=(("BTCUSDT", 65_000.0),))
    cross = Account("binance", 50_000.0, (
        Position("BTCUSDT", Side.LONG, 1, 60_000, 20, mode=MarginMode.CROSS),
        Position("ETHUSDT", Side.SHORT, 10, 3_000, 20, mode=MarginMode.CROSS),
        Position("BTCUSDT", Side.SHORT, 0.5, 62_000, 10, mode=MarginMode.CROSS),
        Position("ETHUSDT", Side.LONG, 20, 2_900, 10, mode=MarginMode.CROSS)),
        marks=(("BTCUSDT", 59_000.0), ("ETHUSDT", 3_100.0)))
    classic, binance = ps.get("classic"), ps.get("binance")

    def faq_quote() -> None:
        for _ in range(20):
            quote_account(classic, faq)

    def cross_quote() -> None:
        for _ in range(20):
            quote_account(binance, cross)

    best = best_cpu_interleaved({"faq": faq_quote, "cross4": cross_quote}, 30)
    return {k: v / 20 * 1e6 for k, v in best.items()}


def run(sizes: tuple[int, ...] = SIZES, n_loop: int = N_LOOP, quote: bool = True,
        cpu_budget_s: float = CPU_BUDGET_S) -> dict[str, Any]:
    profile = load_profiles([exchanges_dir()]).get("binance")
    rules = profile.rules
    tiers = profile.effective_tiers("BTCUSDT")
    kw = {"mm_basis": rules.mm_basis, "fee_model": rules.fee_model, "taker_fee": rules.taker_fee,
          "tier_at_liquidation": rules.tier_at_liquidation}
    per_size = {n: _time_size(n, tiers, kw, cpu_budget_s) for n in sizes}
    head_n = HEADLINE if HEADLINE in per_size else max(per_size)
    head = per_size[head_n]
    s, q, ep, wb, lp = head.pop("arrays")
    for r in per_size.values():
        r.pop("arrays", None)

    n_loop = min(n_loop, head_n)
    rows = list(zip(s[:n_loop].tolist(), q[:n_loop].tolist(), ep[:n_loop].tolist(), wb[:n_loop].tolist(),
                    strict=True))
    basis, fee_model, fee, at_lp = rules.mm_basis, rules.fee_model, rules.taker_fee, rules.tier_at_liquidation

    def loop() -> list[float]:
        return [liquidation_price(side=si, qty=qi, entry=ei, wallet=wi, tiers=tiers, mm_basis=basis,
                                  fee_model=fee_model, taker_fee=fee, tier_at_liquidation=at_lp)
                for si, qi, ei, wi in rows]

    # Same answers both ways, or the timing means nothing.
    if not np.array_equal(np.array(loop()), lp[:n_loop], equal_nan=True):
        raise SystemExit("engine: the array path and the scalar path disagree")
    t_loop = best_cpu_interleaved({"loop": loop}, 3)["loop"]
    t_loop_scaled = t_loop / n_loop * head_n
    ratios = {str(n): r["ratio_vs_numpy"] for n, r in per_size.items()}
    speedup = t_loop_scaled / head["engine_s"]
    out: dict[str, Any] = {
        "ratio_vs_numpy": head["ratio_vs_numpy"],
        "speedup_vs_loop": speedup,
        "positions": head_n,
        "tiers_used": head["tiers_used"],
        "tiers_in_table": len(tiers),
        "engine_s": head["engine_s"],
        "bare_numpy_s": head["bare_numpy_s"],
        "loop_positions_timed": n_loop,
        "loop_s_scaled": t_loop_scaled,
        "loop_us_per_position": t_loop / n_loop * 1e6,
        "no_liquidation_price": head["no_liquidation_price"],
        "target_ratio_vs_numpy": TARGET_RATIO_VS_NUMPY,
        "target_speedup_vs_loop": TARGET_SPEEDUP_VS_LOOP,
        "meets_targets": bool(max(ratios.values()) <= TARGET_RATIO_VS_NUMPY
                              and speedup >= TARGET_SPEEDUP_VS_LOOP),
        "numpy": np.__version__,
        "ratio_vs_numpy_by_size": ratios,
        "by_size": {str(n): r for n, r in per_size.items()},
        "timing": "CPU time of the calling thread, best of interleaved rounds",
    }
    if quote:
        out["quote_account_us"] = _quote_timings()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Time the liquidation solver over whole books and one position.")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), metavar="N",
                    help="book sizes to time (default: 10,000 100,000 1,000,000 10,000,000)")
    args = ap.parse_args(argv)
    r = run(sizes=tuple(sorted(set(args.sizes))))
    if args.json:
        print(json.dumps(r))
        return 0
    ok = "yes" if r["meets_targets"] else "NO"
    print(f"liquidation prices, binance BTCUSDT ({r['tiers_in_table']} brackets, tier at the liquidation "
          f"price); CPU time, best of interleaved rounds")
    print(f"  {'positions':>12}  {'engine':>10}  {'bare numpy':>10}  {'ratio':>6}   (target <= "
          f"{TARGET_RATIO_VS_NUMPY:g}x)")
    for n, s in r["by_size"].items():
        print(f"  {int(n):>12,}  {s['engine_s'] / int(n) * 1e9:>7.2f} ns  {s['bare_numpy_s'] / int(n) * 1e9:>7.2f} ns"
              f"  {s['ratio_vs_numpy']:>5.2f}x   ({s['tiers_used']} brackets used, {s['rounds']} rounds)")
    print(f"  Python loop, scalar path: {r['loop_us_per_position']:.2f} us per position "
          f"(timed over {r['loop_positions_timed']:,}); the array call on {r['positions']:,} is "
          f"{r['speedup_vs_loop']:,.0f}x faster (target >= {TARGET_SPEEDUP_VS_LOOP:g}x)")
    if "quote_account_us" in r:
        qa = r["quote_account_us"]
        print(f"  core.quote.quote_account: FAQ position {qa['faq']:.0f} us, 4-position cross account "
              f"{qa['cross4']:.0f} us")
    print(f"  targets met: {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""MarginLab against a peer: freqtrade 2024.10's Binance liquidation price, on the same positions.

What it compares
----------------
The same seeded isolated BTCUSDT positions (``engine.make_positions``: half long, half short,
notionals log-uniform over every bracket, leverage up to each bracket's maximum, margin 0.8-1.5x
the opening requirement; 100,000 by default) are solved by

* **freqtrade**: ``Binance.dry_run_liquidation_price(...)``, one call per position, in a child
  process running freqtrade's own virtual environment. Its brackets come from the
  ``binance_leverage_tiers.json`` it ships (BTCUSDT as of 2024-10, the snapshot MarginLab's
  ``binance`` profile ships too);
* **MarginLab**: :func:`core.liquidation.liquidation_price` under the shipped ``binance`` profile,
  one scalar call per position (floats in, float out), and one call on the whole arrays;
* **bare numpy**: the one-bracket closed form over the same arrays (no bracket lookup at all).

MarginLab's scalar call is also timed under every other shipped profile (classic entry basis,
bybit with the fee to close, hyperliquid) on positions drawn the same way from that profile's
BTC table, isolated (the margin as ``wallet``) and cross (a collateral ``WB'`` from -0.5x to 3x
the margin as ``wallet``, the margin as ``fee_margin`` under the fee to close). Every one of them
is compared with freqtrade's per-position time; ``scalar_ratio_ml_vs_ft`` is the largest ratio.

Timing is CPU time of the timing thread (in each process), so that other work on a shared machine
does not count; both processes run on one CPU (Linux) and the engines take turns (freqtrade, then
each MarginLab loop, round after round). Each time per position is its best round; each scalar
ratio is the median over rounds of MarginLab's loop divided by freqtrade's loop of the same round.

Agreement: where freqtrade and MarginLab use the same bracket the prices are the same formula and
agree to a few units in the last place. freqtrade 2024.10 looks the bracket up with the position's
margin (its ``stake_amount``) where Binance's rule (and MarginLab) uses the notional at the
liquidation price, so where those fall in different brackets the MMR and maintenance amount differ:
the script counts those positions and reports the largest gap.

How freqtrade is built and called
---------------------------------
On first run it creates a virtual environment under the user's cache folder
(``platformdirs.user_cache_dir("marginlab")/peers/freqtrade-2024.10``; ``--cache-dir`` changes
it) and installs ``freqtrade==2024.10`` with ``--no-deps``, plus only what importing its exchange
module needs (found by trying: ccxt 4.4.20 with its dependencies, pandas and numpy < 2, cachetools,
python-dateutil, jsonschema, python-rapidjson, humanize, rich). That needs PyPI once; later runs
reuse the folder. Nothing of freqtrade is copied into this repository: it is installed and called.

The ``Binance`` exchange object normally loads markets over the network when constructed. The
child makes it without the constructor: ``Binance.__new__(Binance)``, then sets the attributes
``dry_run_liquidation_price`` reads (``_config`` with ``dry_run`` and the ``backtest`` run mode,
``trading_mode`` futures, ``margin_mode`` isolated) and calls freqtrade's own
``fill_leverage_tiers()``, which in dry-run mode reads the shipped JSON file. The attributes its
destructor looks at are set to None, so nothing is left to close. Each position is passed as
``dry_run_liquidation_price(pair, open_rate=EP, is_short, amount=q, stake_amount=margin,
leverage=q*EP/margin, wallet_balance=margin, open_trades=[])``.

Usage::

    make bench-peers                     # or: .venv/bin/python benchmarks/peers.py
    .venv/bin/python benchmarks/peers.py --json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FREQTRADE = "freqtrade==2024.10"
# What `from freqtrade.exchange.binance import Binance` needs, found by installing freqtrade with
# --no-deps and adding what each ImportError named (ccxt brings its own dependencies).
FREQTRADE_IMPORT_NEEDS = ("ccxt==4.4.20", "numpy<2", "pandas>=2.2,<3", "cachetools", "python-dateutil",
                          "jsonschema", "python-rapidjson", "humanize", "rich")
PAIR = "BTC/USDT:USDT"
N_POSITIONS = 100_000
SEED = 20241024

WHY_BRACKETS_DIFFER = ("freqtrade 2024.10 picks the bracket by the position's margin (stake amount); "
                       "Binance's rule, which MarginLab follows, picks it by the notional at the "
                       "liquidation price.")


# ---------------------------------------------------------------------------------------------
# The child: runs under freqtrade's interpreter, imports only numpy and freqtrade.


def _freqtrade_exchange() -> Any:
    """freqtrade's Binance exchange object, made without the network (see the module notes)."""
    from freqtrade.enums import MarginMode, RunMode, TradingMode
    from freqtrade.exchange.binance import Binance

    ex = Binance.__new__(Binance)
    ex._exchange_ws = None  # read by its destructor
    ex._ws_async = None
    ex.loop = None
    ex._config = {"dry_run": True, "runmode": RunMode.BACKTEST}
    ex.trading_mode = TradingMode.FUTURES
    ex.margin_mode = MarginMode.ISOLATED
    ex._leverage_tiers = {}
    ex.fill_leverage_tiers()  # dry run: reads freqtrade's binance_leverage_tiers.json
    return ex


def _child(positions: str, answers: str) -> int:
    """Answer the parent: solve every position once (saved to ``answers``), then time rounds.

    Protocol on stdin/stdout, one line each: the child prints ``ready``; each ``time`` line gets back
    the CPU seconds one loop over every position took; anything else ends it.
    """
    ex = _freqtrade_exchange()
    data = np.load(positions)
    rows = list(zip(data["entry"].tolist(), (data["side"] < 0).tolist(), data["qty"].tolist(),
                    data["wallet"].tolist(), data["leverage"].tolist(), strict=True))
    solve = ex.dry_run_liquidation_price
    lp = [solve(PAIR, ep, short, q, wb, lev, wb, []) for ep, short, q, wb, lev in rows]
    rates = [ex.get_maintenance_ratio_and_amt(PAIR, wb) for _, _, _, wb, _ in rows]
    np.savez(answers, lp=np.array(lp, dtype=float), mmr=np.array([r[0] for r in rates], dtype=float),
             cum=np.array([r[1] for r in rates], dtype=float))
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "time":
            break
        t0 = time.thread_time()
        for ep, short, q, wb, lev in rows:
            solve(PAIR, ep, short, q, wb, lev, wb, [])
        print(time.thread_time() - t0, flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# Building freqtrade's environment


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("marginlab")) / "peers" / "freqtrade-2024.10"


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run_quietly(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"peers: failed: {' '.join(cmd)}")


def ensure_freqtrade(venv: Path) -> Path:
    """freqtrade's interpreter, building its virtual environment on first use."""
    python = _venv_python(venv)
    done = venv / ".marginlab-ready"
    if done.exists() and python.exists():
        return python
    if venv.exists():
        shutil.rmtree(venv)  # a build that did not finish
    print(f"peers: building {FREQTRADE} in {venv} (first run only; needs PyPI) ...", file=sys.stderr, flush=True)
    _run_quietly([sys.executable, "-m", "venv", str(venv)])
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run_quietly([*pip, "--no-deps", FREQTRADE])
    _run_quietly([*pip, *FREQTRADE_IMPORT_NEEDS])
    _run_quietly([str(python), "-c", "from freqtrade.exchange.binance import Binance"])
    done.write_text(FREQTRADE + "\n")
    return python


# ---------------------------------------------------------------------------------------------
# The comparison


def agreement(lp_ml: np.ndarray, mmr_ml: np.ndarray, cum_ml: np.ndarray, entry: np.ndarray,
              lp_ft: np.ndarray, mmr_ft: np.ndarray, cum_ft: np.ndarray) -> dict[str, Any]:
    """How the two engines' prices agree, split by whether they used the same bracket.

    Only positions that have a liquidation price in MarginLab count (a long backed by more than its
    notional has none; freqtrade returns a number there, zero or below). Gaps are relative to the
    price where both used the same bracket, and to the entry price where they did not.
    """
    priced = np.isfinite(lp_ml)
    same = priced & (mmr_ft == mmr_ml) & (cum_ft == cum_ml)
    diff = priced & ~same
    gap = np.abs(lp_ft - lp_ml)
    return {
        "positions_priced": int(priced.sum()),
        "no_liquidation_price": int((~priced).sum()),
        "n_same_bracket": int(same.sum()),
        "agree_same_bracket_max_rel": float((gap[same] / lp_ml[same]).max()) if same.any() else 0.0,
        "n_diff_bracket": int(diff.sum()),
        "diff_bracket_max_gap": float(gap[diff].max()) if diff.any() else 0.0,
        "diff_bracket_max_gap_of_entry": float((gap[diff] / entry[diff]).max()) if diff.any() else 0.0,
    }


def _scalar_loop(rows: list[tuple[float, ...]], tiers: Any, rules: Any, with_fee_margin: bool
                 ) -> tuple[Callable[[], None], Callable[[], list[float]]]:
    """(a loop of scalar calls to time, the same calls' answers): the call core.quote makes for a
    position, keywords spelled out; ``fee_margin`` passed when asked."""
    from core.liquidation import liquidation_price

    basis, fee_model, fee, at_lp = rules.mm_basis, rules.fee_model, rules.taker_fee, rules.tier_at_liquidation
    if with_fee_margin:
        def one(s: float, q: float, ep: float, wb: float, mg: float) -> float:
            return liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, mm_basis=basis,
                                     fee_model=fee_model, taker_fee=fee, tier_at_liquidation=at_lp,
                                     fee_margin=mg)

        def timed() -> None:
            for s, q, ep, wb, mg in rows:
                liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, mm_basis=basis,
                                  fee_model=fee_model, taker_fee=fee, tier_at_liquidation=at_lp,
                                  fee_margin=mg)
    else:
        def one(s: float, q: float, ep: float, wb: float, mg: float) -> float:
            return liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, mm_basis=basis,
                                     fee_model=fee_model, taker_fee=fee, tier_at_liquidation=at_lp)

        def timed() -> None:
            for s, q, ep, wb, _ in rows:
                liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, mm_basis=basis,
                                  fee_model=fee_model, taker_fee=fee, tier_at_liquidation=at_lp)

    return timed, lambda: [one(*row) for row in rows]


def _scalar_loops(n: int) -> dict[str, tuple[Callable[[], None], Callable[[], list[float]]]]:
    """Per shipped linear profile and margin mode, :func:`_scalar_loop` over n seeded positions (the
    inverse profiles solve the same rules in their linear frame: benchmarks/engine.py times them)."""
    from engine import make_positions

    from core.paths import exchanges_dir
    from core.profiles import FeeModel, load_profiles

    loops = {}
    ps = load_profiles([exchanges_dir()])
    rng = np.random.default_rng(SEED + 1)
    for pid in sorted(ps.ids):
        profile = ps.get(pid)
        sym = "BTCUSDT" if "BTCUSDT" in profile.contracts else "BTC"
        if sym not in profile.contracts or profile.contract(sym).is_inverse:
            continue
        pos = make_positions(profile.effective_tiers(sym), n, SEED)
        margin = pos["wallet"]
        collateral = margin * rng.uniform(-0.5, 3.0, n)
        for mode, wallet in (("isolated", margin), ("cross", collateral)):
            rows = list(zip(pos["side"].tolist(), pos["qty"].tolist(), pos["entry"].tolist(),
                            wallet.tolist(), margin.tolist(), strict=True))
            fee_margin = mode == "cross" and profile.rules.fee_model is FeeModel.CLOSE_FEE
            loops[f"{pid} {mode}"] = _scalar_loop(rows, profile.contract(sym).tiers, profile.rules, fee_margin)
    return loops


@contextmanager
def _one_cpu() -> Iterator[int | None]:
    """Run this process, and the child it starts, on one CPU (Linux): the engines take turns on
    the same core, with the same cache and the same neighbours. Yields the CPU (None where the
    system cannot pin); the previous affinity comes back afterwards."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


def run(n: int = N_POSITIONS, repeats: int = 25, cache_dir: Path | None = None) -> dict[str, Any]:
    from engine import make_positions
    from timing import best_cpu_interleaved

    from core.liquidation import liquidation_price, liquidation_tier
    from core.paths import exchanges_dir
    from core.profiles import load_profiles

    profile = load_profiles([exchanges_dir()]).get("binance")
    rules = profile.rules
    tiers = profile.effective_tiers("BTCUSDT")
    pos = make_positions(tiers, n, SEED)
    s, q, ep, wb = pos["side"], pos["qty"], pos["entry"], pos["wallet"]
    python = ensure_freqtrade(cache_dir or default_cache_dir())
    kw = {"tiers": tiers, "mm_basis": rules.mm_basis, "fee_model": rules.fee_model,
          "taker_fee": rules.taker_fee, "tier_at_liquidation": rules.tier_at_liquidation}

    def vector() -> np.ndarray:
        return liquidation_price(side=s, qty=q, entry=ep, wallet=wb, **kw)

    mmr0, cum0 = float(tiers.mmr[2]), float(tiers.cum[2])

    def bare() -> np.ndarray:
        lp = (s * q * ep - wb - cum0) / (q * (s - mmr0))
        return np.where(lp > 0, lp, np.nan)

    loops = _scalar_loops(n)
    lp_ml = vector()
    if not np.array_equal(np.array(loops["binance isolated"][1]()), lp_ml, equal_nan=True):
        raise SystemExit("peers: MarginLab's scalar and array answers differ")

    t_scalar = dict.fromkeys(loops, float("inf"))
    with _one_cpu() as pinned, tempfile.TemporaryDirectory() as tmp:
        positions, answers = Path(tmp) / "positions.npz", Path(tmp) / "answers.npz"
        np.savez(positions, side=s, qty=q, entry=ep, wallet=wb, leverage=q * ep / wb)
        child = subprocess.Popen([str(python), __file__, "--freqtrade-child", str(positions), str(answers)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdin is not None and child.stdout is not None
        try:
            if child.stdout.readline().strip() != "ready":
                raise SystemExit("peers: the freqtrade child did not start (see its message above)")
            with np.load(answers) as ft:
                lp_ft, mmr_ft, cum_ft = ft["lp"], ft["mmr"], ft["cum"]
            t_ft = float("inf")
            paired: dict[str, list[float]] = {name: [] for name in loops}
            for _ in range(repeats):  # take turns, so that load on a shared machine hits everyone
                child.stdin.write("time\n")
                child.stdin.flush()
                ft_round = float(child.stdout.readline())
                t_ft = min(t_ft, ft_round)
                for name, t in best_cpu_interleaved({k: v[0] for k, v in loops.items()}, 1).items():
                    t_scalar[name] = min(t_scalar[name], t)
                    paired[name].append(t / ft_round)
        finally:
            child.stdin.close()
            child.wait(timeout=60)
        k = liquidation_tier(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, mm_basis=rules.mm_basis,
                             tier_at_liquidation=rules.tier_at_liquidation)
        arrays = best_cpu_interleaved({"vector": vector, "bare": bare}, rounds=60 * repeats)
    t_vec, t_bare = arrays["vector"], arrays["bare"]
    agree = agreement(lp_ml, tiers.mmr[k], tiers.cum[k], ep, lp_ft, mmr_ft, cum_ft)
    # Each MarginLab loop against the freqtrade loop of the same round (run just before it, on the
    # same CPU): the median of those ratios, which a burst of load on either side barely moves.
    ratios = {name: float(np.median(r)) for name, r in paired.items()}
    return {
        "ft_us_per_pos": t_ft / n * 1e6,
        "ml_scalar_us_per_pos": t_scalar["binance isolated"] / n * 1e6,
        "ml_vector_ns_per_pos": t_vec / n * 1e9,
        "numpy_ns_per_pos": t_bare / n * 1e9,
        "vector_speedup_vs_ft": t_ft / t_vec,
        "scalar_ratio_ml_vs_ft": max(ratios.values()),
        "agree_same_bracket_max_rel": agree["agree_same_bracket_max_rel"],
        "n_diff_bracket": agree["n_diff_bracket"],
        "positions": n,
        "scalar_ratio_by_profile": ratios,
        "ml_scalar_us_per_pos_by_profile": {name: t / n * 1e6 for name, t in t_scalar.items()},
        **{key: v for key, v in agree.items() if key not in ("agree_same_bracket_max_rel", "n_diff_bracket")},
        "vector_ratio_vs_numpy": t_vec / t_bare,
        "why_brackets_differ": WHY_BRACKETS_DIFFER,
        "freqtrade": FREQTRADE,
        "numpy": np.__version__,
        "timing": "CPU time of the timing thread, best of rounds taken in turn",
        "pinned_cpu": pinned,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="MarginLab against freqtrade 2024.10 on the same positions.")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--positions", type=int, default=N_POSITIONS, help=f"how many (default {N_POSITIONS:,})")
    ap.add_argument("--repeats", type=int, default=25, help="rounds per engine, best kept (default 25)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="where freqtrade's environment lives")
    ap.add_argument("--freqtrade-child", nargs=2, metavar=("POSITIONS", "ANSWERS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.freqtrade_child:
        return _child(*args.freqtrade_child)
    r = run(n=max(1, args.positions), repeats=max(1, args.repeats), cache_dir=args.cache_dir)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"liquidation prices, {r['positions']:,} seeded isolated binance BTCUSDT positions, MarginLab vs "
          f"{r['freqtrade']} (CPU time, best of {args.repeats} rounds taken in turn)")
    print(f"  freqtrade, dry_run_liquidation_price per position   {r['ft_us_per_pos']:8.2f} us")
    print(f"  MarginLab, liquidation_price per position (scalar)  {r['ml_scalar_us_per_pos']:8.2f} us   "
          f"{r['scalar_ratio_by_profile']['binance isolated']:.2f}x freqtrade's time")
    print(f"  MarginLab, one call on the arrays                   {r['ml_vector_ns_per_pos']:8.2f} ns   "
          f"{r['vector_speedup_vs_ft']:,.0f}x faster than freqtrade (target >= 100)")
    print(f"  bare numpy, one-bracket closed form                 {r['numpy_ns_per_pos']:8.2f} ns   "
          f"(MarginLab's array call is {r['vector_ratio_vs_numpy']:.2f}x that)")
    print("  MarginLab's scalar call under every shipped profile, as a multiple of freqtrade's time "
          "(target <= 1):")
    for name, ratio in r["scalar_ratio_by_profile"].items():
        print(f"    {name:<22} {r['ml_scalar_us_per_pos_by_profile'][name]:6.2f} us  {ratio:5.2f}x")
    print(f"  agreement: {r['n_same_bracket']:,} positions in the same bracket, prices within "
          f"{r['agree_same_bracket_max_rel']:.1e} of each other")
    print(f"    {r['n_diff_bracket']:,} in another bracket, largest gap {r['diff_bracket_max_gap']:,.2f} USDT "
          f"({r['diff_bracket_max_gap_of_entry']:.2%} of the entry): {WHY_BRACKETS_DIFFER}")
    print(f"    {r['no_liquidation_price']:,} have no liquidation price (a long's margin above its notional)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Do hundreds of tier tables slow MarginLab down? Cold start of ``marginlab-cli quote``, measured now.

Each run is a fresh ``python -m core.cli quote --exchange binance --symbol BTCUSDT ...`` process,
timed from launch to exit (imports, loading every profile, one quote, printing). Two checkouts are
timed in the same run, alternating, median of ``--runs`` each:

* **baseline**: the code and the four hand-typed profiles before every market was shipped (git
  ref ``--baseline``, default ``29f0318``, copied out with ``git archive``);
* **now**: this checkout, with every Binance USDⓈ-M and Hyperliquid perpetual (533 contracts).

Target: now / baseline <= 1.3. Also printed: the time to load every profile in-process and to
parse every contract of the largest (what the GUI's symbol list would cost if it parsed them all).

Usage::

    python benchmarks/profiles.py          # a short report for people
    python benchmarks/profiles.py --json   # {"cold_start_ratio": ..., "baseline_s": ..., "now_s": ...}
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of

from core.paths import exchanges_dir
from core.profiles import load_profiles

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.3
QUOTE = ["-m", "core.cli", "quote", "--exchange", "binance", "--symbol", "BTCUSDT", "--side", "long",
         "--qty", "5", "--entry", "68000", "--leverage", "10"]


def cold_start(cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *QUOTE], cwd=cwd, check=True, capture_output=True,
                   env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    return time.perf_counter() - t0


def checkout(ref: str, into: Path) -> Path:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "core", "resources"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--baseline", default="29f0318", help="git ref of the code before (default 29f0318)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = checkout(args.baseline, Path(tmp))
        for cwd in (base, ROOT):  # warm the disk cache and the bytecode of both once
            cold_start(cwd)
        before, now = [], []
        for _ in range(args.runs):
            before.append(cold_start(base))
            now.append(cold_start(ROOT))
    profiles = load_profiles([exchanges_dir()])
    load_s = best_of(lambda: load_profiles([exchanges_dir()]), 5)

    def parse_all() -> None:
        fresh = load_profiles([exchanges_dir()]).get("binance")
        for s in fresh.symbols:
            fresh.contract(s)

    parse_s = best_of(parse_all, 3) - load_s
    out = {
        "baseline_s": statistics.median(before), "now_s": statistics.median(now),
        "cold_start_ratio": statistics.median(now) / statistics.median(before),
        "contracts": {p.id: len(p.symbols) for p in profiles},
        "load_all_profiles_s": load_s, "parse_every_binance_contract_s": parse_s,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"marginlab-cli quote cold start: {out['now_s'] * 1000:.0f} ms now vs {out['baseline_s'] * 1000:.0f} ms "
              f"before ({args.baseline}): x{out['cold_start_ratio']:.2f} (target <= {TARGET_RATIO})")
        print(f"contracts: {out['contracts']}")
        print(f"load every profile: {load_s * 1000:.1f} ms; parse all {out['contracts']['binance']} Binance "
              f"contracts: {parse_s * 1000:.0f} ms (done only for the contracts used)")
    return 0 if out["cold_start_ratio"] <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())

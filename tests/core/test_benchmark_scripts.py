"""The benchmark scripts' own logic: what they report, not how fast anything is.

benchmarks/engine.py and benchmarks/peers.py print speed ratios measured in the same run; these
tests never look at a timing. They hold the JSON contract (the keys other tools read), the
agreement arithmetic of the freqtrade comparison, and that the seeded positions both engines see
are the ones described. Nothing here installs or runs freqtrade (that needs PyPI: `make bench-peers`).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import engine  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)
import peers  # noqa: E402

from core.paths import exchanges_dir  # noqa: E402
from core.profiles import load_profiles  # noqa: E402

ENGINE_KEYS = ["ratio_vs_numpy", "speedup_vs_loop", "positions", "tiers_used", "tiers_in_table", "engine_s",
               "bare_numpy_s", "loop_positions_timed", "loop_s_scaled", "loop_us_per_position",
               "no_liquidation_price", "target_ratio_vs_numpy", "target_speedup_vs_loop", "meets_targets",
               "numpy"]
PEERS_KEYS = ["ft_us_per_pos", "ml_scalar_us_per_pos", "ml_vector_ns_per_pos", "numpy_ns_per_pos",
              "vector_speedup_vs_ft", "scalar_ratio_ml_vs_ft", "agree_same_bracket_max_rel", "n_diff_bracket"]


def test_engine_json_keeps_its_keys_and_adds_one_ratio_per_size():
    r = engine.run(sizes=(2_048, 3_000), n_loop=300, quote=False, cpu_budget_s=0.01)
    assert list(r)[:2] == ["ratio_vs_numpy", "speedup_vs_loop"]  # those two first, as documented
    assert set(ENGINE_KEYS) <= set(r)
    assert set(r["ratio_vs_numpy_by_size"]) == {"2048", "3000"}
    assert r["positions"] == 3_000 and r["loop_positions_timed"] == 300
    assert r["target_ratio_vs_numpy"] == 2.0
    for n, size in r["by_size"].items():
        assert size["positions"] == int(n)
        assert size["ratio_vs_numpy"] == pytest.approx(size["engine_s"] / size["bare_numpy_s"])
    assert isinstance(r["meets_targets"], bool)


def test_seeded_positions_use_every_binance_bracket_and_are_reproducible():
    tiers = load_profiles([exchanges_dir()]).get("binance").effective_tiers("BTCUSDT")
    a, b = engine.make_positions(tiers, 50_000), engine.make_positions(tiers, 50_000)
    for key in ("side", "qty", "entry", "wallet"):
        np.testing.assert_array_equal(a[key], b[key])
    assert np.unique(a["tier"]).size == len(tiers)
    assert set(np.unique(a["side"]).tolist()) == {-1.0, 1.0}
    # isolated margins between 0.8x and 1.5x the opening requirement at leverage >= 1
    assert np.all(a["wallet"] <= 1.5 * a["qty"] * a["entry"] * (1 + 1e-12))


def test_agreement_splits_same_and_other_bracket():
    entry = np.array([100.0, 100.0, 100.0, 100.0])
    lp_ml = np.array([90.0, 80.0, np.nan, 95.0])
    mmr_ml, cum_ml = np.array([0.004, 0.005, 0.004, 0.01]), np.array([0.0, 50.0, 0.0, 11_450.0])
    # freqtrade: the same bracket for the first two (one ulp apart on the second), another for the
    # last; the third has no price in MarginLab (freqtrade's number there is not compared)
    lp_ft = np.array([90.0, np.nextafter(80.0, 81.0), -5.0, 96.5])
    mmr_ft, cum_ft = np.array([0.004, 0.005, 0.004, 0.005]), np.array([0.0, 50.0, 0.0, 50.0])
    a = peers.agreement(lp_ml, mmr_ml, cum_ml, entry, lp_ft, mmr_ft, cum_ft)
    assert a["positions_priced"] == 3 and a["no_liquidation_price"] == 1
    assert a["n_same_bracket"] == 2 and a["n_diff_bracket"] == 1
    assert a["agree_same_bracket_max_rel"] == pytest.approx((np.nextafter(80.0, 81.0) - 80.0) / 80.0)
    assert a["diff_bracket_max_gap"] == pytest.approx(1.5)
    assert a["diff_bracket_max_gap_of_entry"] == pytest.approx(0.015)


def test_every_shipped_profile_is_timed_isolated_and_cross_with_answers_that_match_arrays():
    from core.liquidation import liquidation_price

    loops = peers._scalar_loops(64)
    ps = load_profiles([exchanges_dir()])
    linear = [pid for pid in ps.ids if not ps.get(pid).contract(ps.get(pid).symbols[0]).is_inverse]
    assert len(linear) == 4 and set(loops) == {f"{pid} {mode}" for pid in linear for mode in ("isolated", "cross")}
    # the binance isolated loop sees the very positions freqtrade gets
    tiers = ps.get("binance").effective_tiers("BTCUSDT")
    pos = engine.make_positions(tiers, 64, peers.SEED)
    expected = liquidation_price(side=pos["side"], qty=pos["qty"], entry=pos["entry"], wallet=pos["wallet"],
                                 tiers=tiers)
    np.testing.assert_array_equal(loops["binance isolated"][1](), expected)


# A stand-in for freqtrade's package, so that peers.run() can be driven end to end offline: the
# same call signatures, a fixed bracket (MMR 0.4 %, no amount) and an isolated price of that rate.
FAKE_FREQTRADE = {
    "freqtrade/__init__.py": "",
    "freqtrade/enums.py": (
        "class MarginMode:\n    ISOLATED = 'isolated'\n"
        "class RunMode:\n    BACKTEST = 'backtest'\n"
        "class TradingMode:\n    FUTURES = 'futures'\n"),
    "freqtrade/exchange/__init__.py": "",
    "freqtrade/exchange/binance.py": (
        "class Binance:\n"
        "    def fill_leverage_tiers(self):\n"
        "        self._leverage_tiers = {'BTC/USDT:USDT': [{'minNotional': 0.0}]}\n"
        "    def get_maintenance_ratio_and_amt(self, pair, notional_value):\n"
        "        return 0.004, 0.0\n"
        "    def dry_run_liquidation_price(self, pair, open_rate, is_short, amount, stake_amount,\n"
        "                                  leverage, wallet_balance, open_trades):\n"
        "        s = -1 if is_short else 1\n"
        "        return (s * amount * open_rate - wallet_balance) / (amount * (s - 0.004))\n"),
}


@pytest.mark.slow
def test_peers_runs_end_to_end_against_a_stand_in_and_prints_the_issue_keys(tmp_path, monkeypatch):
    package = tmp_path / "fake"
    for rel, text in FAKE_FREQTRADE.items():
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_text(text)
    venv = tmp_path / "venv"
    python = peers._venv_python(venv)
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    (venv / ".marginlab-ready").write_text("stand-in\n")  # so that nothing is installed
    monkeypatch.setenv("PYTHONPATH", str(package))
    r = peers.run(n=300, repeats=1, cache_dir=venv)
    assert list(r)[:len(PEERS_KEYS)] == PEERS_KEYS
    assert r["positions"] == 300 and r["n_same_bracket"] + r["n_diff_bracket"] == r["positions_priced"]
    # the stand-in's one bracket is Binance's first: positions liquidated in it agree to rounding
    assert r["n_same_bracket"] > 0 and r["agree_same_bracket_max_rel"] < 1e-12
    assert r["n_diff_bracket"] > 0  # and the others do not
    assert set(r["scalar_ratio_by_profile"]) == set(peers._scalar_loops(1))
    assert r["scalar_ratio_ml_vs_ft"] == max(r["scalar_ratio_by_profile"].values())

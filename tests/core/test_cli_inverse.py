"""The command line on inverse contracts and hedge legs: contract flags, amounts in the settle asset,
evaluate and simulate of such files, compare across contract types (docs/cli.md)."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from core import cli
from core.paths import scenarios_dir

TODAY = dt.date(2026, 6, 1)  # tables young enough for no age notes on most profiles (never the clock)
# Binance's COIN-M calculator example (tests/core/test_inverse.py): LP 33,599.4186
COINM = ["quote", "--exchange", "binance-coinm", "--symbol", "BTCUSD_PERP", "--side", "long", "--qty", "100000",
         "--entry", "45000", "--leverage", "4", "--mode", "cross", "--wallet", "101"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv), today=TODAY)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_quote_an_inverse_contract_in_contracts_and_coin(capsys):
    d = run_json(capsys, *COINM)
    assert (d["contract_type"], d["contract_size"], d["settle_asset"], d["quote_currency"]) == (
        "inverse", 100.0, "BTC", "USD")
    assert d["liquidation_price"] == pytest.approx(33_599.4186, abs=1e-4)
    assert d["notional"] == pytest.approx(1e7 / 45_000) and d["margin"] == 101.0
    code, out, _ = run(capsys, *COINM, "--explain")
    assert code == 0
    assert "100,000 contracts of 100 USD" in out and "margins and PnL in BTC" in out
    assert "222.22222222 BTC" in out  # 8 decimals of a coin (core.fmt.amount)
    assert "33,599.4" in out and "(1 + 0.125)" in " ".join(out.split())


def test_a_custom_inverse_contract_on_the_command_line(capsys):
    # the same position as a custom contract: one tier at bracket 7's rate and amount
    d = run_json(capsys, "quote", "--exchange", "binance", "--symbol", "BTCUSDT", "--contract", "inverse",
                 "--contract-size", "100", "--mmr", "0.125", "--maintenance-amount", "11.605", "--max-leverage", "4",
                 *COINM[5:])
    assert d["contract_type"] == "inverse" and d["settle_asset"] == "BTC"
    assert d["liquidation_price"] == pytest.approx(33_599.4186, abs=1e-4)
    assert d["overrides"]["contract_type"] == "inverse" and d["overrides"]["contract_size"] == 100


@pytest.mark.parametrize(("argv", "expected"), [
    (["quote", "--exchange", "binance", "--contract", "inverse", *COINM[5:]], ["--contract", "--mmr", "USDT"]),
    (["quote", *COINM[1:], "--contract-size", "0"], ["--contract-size", "(0, 1e+09]"]),
])
def test_contract_flags_refused_in_one_line(capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    for piece in expected:
        assert piece in err, (piece, err)


def test_evaluate_a_hedged_pair_shows_the_shared_price(capsys):
    path = scenarios_dir() / "lesson-hedge-cross.json"
    d = run_json(capsys, "evaluate", str(path))
    assert d["position_mode"] == "hedge" and d["settle_asset"] == "USDT"
    a, b = d["positions"]
    assert a["liquidation_price"] == b["liquidation_price"] and a["shares_lp_with"] == [1]
    code, out, _ = run(capsys, "evaluate", str(path))
    assert code == 0 and "hedge mode" in out and "share one liquidation price" in out


def test_simulate_an_inverse_scenario_in_coin(capsys, tmp_path):
    # 1,000 BTCUSD_PERP (100 USD) long from 50,000 at 10x: margin 0.2 BTC, BP 45,454.55, filled at 40,000:
    # the fund pays 100,000 x (1/40,000 - 1/45,454.55) = 0.3 BTC.
    doc = {"schema_version": 1, "kind": "marginlab.scenario", "exchange": "binance-coinm",
           "account": {"position_mode": "one_way", "wallet": 0,
                       "positions": [{"symbol": "BTCUSD_PERP", "side": "long", "qty": 1000, "entry": 50000,
                                      "leverage": 10}]},
           "simulation": {"path": {"kind": "points", "t": [0, 1, 2], "mark": [50000, 46000, 40000]}}}
    path = tmp_path / "inverse.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    d = run_json(capsys, "simulate", str(path))
    parties = {p["name"]: p for p in d["parties"]}
    assert parties["trader.isolated.BTCUSD_PERP"]["start"] == pytest.approx(0.2)
    assert parties["insurance_fund"]["end"] == pytest.approx(-0.3)
    assert sum(p["end"] - p["start"] for p in d["parties"]) == pytest.approx(0.0, abs=1e-12)
    code, out, _ = run(capsys, "simulate", str(path))
    assert code == 0 and "Balances (start -> end, BTC)" in out and "0.20000000" in out


def test_compare_puts_linear_and_inverse_side_by_side(capsys):
    pos = ["--symbol", "BTC", "--side", "long", "--qty", "5", "--entry", "68000", "--leverage", "10"]
    d = run_json(capsys, "compare", "--exchange", "binance", "--exchange", "binance-coinm", *pos)
    lin, inv = d["profiles"]
    assert "converted" not in lin and "3,400 contracts of 100 USD" in inv["converted"]
    # 5 BTC at 68,000 = 340,000 USD = 3,400 contracts; IM 340,000 / 68,000 / 10 = 0.5 BTC
    assert inv["quote"]["qty"] == 3_400 and inv["quote"]["initial_margin"] == pytest.approx(0.5)
    code, out, _ = run(capsys, "compare", "--exchange", "binance", "--exchange", "binance-coinm", *pos, "--explain")
    assert code == 0 and "converted by notional at entry" in out and "contract type inverse vs binance linear" in out

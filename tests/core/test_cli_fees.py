"""marginlab-cli and fees/funding: quote's JSON keys and lines, --hold-hours, --maker-fee, simulate --funding-rate."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from core import cli
from core.paths import scenarios_dir

FAQ = ["quote", "--exchange", "classic", "--symbol", "BTCUSDT", "--side", "long", "--qty", "5",
       "--entry", "68000", "--leverage", "10"]
TODAY = dt.date(2025, 1, 1)


def run(capsys, *argv):
    code = cli.main(list(argv), today=TODAY)
    out, err = capsys.readouterr()
    return code, out, err


def test_quote_json_has_the_fee_keys(capsys):
    code, out, _ = run(capsys, *FAQ, "--mark", "67000", "--json")
    assert code == 0
    d = json.loads(out)
    # classic taker 0.05 % (docs/domain.md §9.4): open 340,000 x 0.0005 = 170; close at the mark
    # 335,000 x 0.0005 = 167.50; break-even 340,170 / (5 x 0.9995) = 68,068.03
    assert d["open_fee"] == pytest.approx(170.0)
    assert d["close_fee_at_mark"] == pytest.approx(167.5)
    assert d["break_even_price"] == pytest.approx(340_170 / (5 * 0.9995))
    assert d["net_unrealized_pnl"] == pytest.approx(-5_000 - 170 - 167.5)
    assert "hold" not in d


def test_quote_maker_fee_and_order_types(capsys):
    _, out, _ = run(capsys, *FAQ, "--maker-fee", "0.0001", "--open-as", "maker", "--close-as", "maker", "--json")
    d = json.loads(out)
    assert d["open_fee"] == pytest.approx(34.0) and d["close_fee_at_mark"] == pytest.approx(34.0)
    assert d["overrides"] == {"maker_fee": 0.0001}
    code, _, err = run(capsys, *FAQ, "--maker-fee", "0.5")
    assert code == 2 and "--maker-fee" in err and "[-0.01, 0.1]" in err


def test_quote_hold_hours(capsys):
    # docs/domain.md §9.3: 72 h at 0.01 % = 9 payments of 34: 306 paid, LP 61,941.2; funding
    # alone liquidates at payment 901 (day 300.33)
    _, out, _ = run(capsys, *FAQ, "--hold-hours", "72", "--funding-rate", "0.0001", "--json")
    h = json.loads(out)["hold"]
    assert (h["intervals"], h["paid"], h["liquidation_intervals"]) == (9, pytest.approx(306.0), 901)
    assert h["liquidation_price_after"] == pytest.approx(61_941.2) and h["hours"] == pytest.approx(72.0)
    code, out, _ = run(capsys, *FAQ, "--hold-hours", "72")
    assert code == 0
    assert "9 payments, 306.00 USDT paid in all; liquidation price 61,880.0 -> 61,941.2" in out
    assert "funding alone liquidates it at payment 901 (day 300.33)" in out
    assert "Break-even (fees)" in out and "68,068.0" in out
    code, _, err = run(capsys, *FAQ, "--funding-rate", "0.2")
    assert code == 2 and "--funding-rate" in err and "[-0.05, 0.05]" in err


def test_simulate_funding_rate_flag(capsys):
    lesson = str(scenarios_dir() / "lesson-faq-crash.json")
    code, out, _ = run(capsys, "simulate", lesson, "--json")
    assert not [e for e in json.loads(out)["events"] if e["kind"] == "funding_payment"]
    # the flat lesson at twice its rate: 30 a payment, liquidated at payment floor(880 / 30) + 1 = 30
    flat = str(scenarios_dir() / "lesson-funding-flat-price.json")
    code, out, _ = run(capsys, "simulate", flat, "--funding-rate", "0.001", "--json")
    d = json.loads(out)
    pays = [e for e in d["events"] if e["kind"] == "funding_payment"]
    assert code == 0 and len(pays) == 30 and pays[0]["amount"] == pytest.approx(30.0)
    assert {p["name"]: p["end"] for p in d["parties"]}["funding"] == pytest.approx(900.0)

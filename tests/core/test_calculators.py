"""core.calculators: checked inputs around core.whatif's calculators, and the average entry."""
from __future__ import annotations

import math

import pytest

from core import whatif
from core.calculators import average_entry, max_open, number, pnl_and_roe, risk_size, target_price
from core.errors import InvalidInputError
from core.model import Side
from core.paths import exchanges_dir
from core.profiles import load_profiles

PS = load_profiles([exchanges_dir()])


def test_golden_values():
    # 5 BTC short at 68,000, 10x, exit 64,600: PnL 5 x 3,400 = 17,000 on 34,000 margin: ROE 50 %
    r = pnl_and_roe(side="short", qty=5, entry=68_000, exit_price=64_600, leverage=10)
    assert (r.pnl, r.roe, r.margin) == (pytest.approx(17_000), pytest.approx(0.5), pytest.approx(34_000))
    # a short wanting +50 % at 10x needs a 5 % fall: 68,000 x 0.95 = 64,600
    assert target_price(side=Side.SHORT, entry=68_000, leverage=10, roe_pct=50) == pytest.approx(64_600)
    # stop above the entry: a short; 1 % of 10,000 over a 2,000 distance = 0.05
    rs = risk_size(balance=10_000, risk_pct=1, entry=68_000, stop=70_000)
    assert rs.side is Side.SHORT and rs.qty == pytest.approx(0.05) and rs.loss_at_stop == pytest.approx(100)
    # three fills: (1 x 60,000 + 2 x 63,000 + 1 x 66,000) / 4 = 252,000 / 4 = 63,000
    assert average_entry(["60,000", 63_000, 66_000], [1, "2", 1]).price == pytest.approx(63_000)


def test_max_open_uses_tiers_lot_and_fee():
    binance = PS.get("binance")
    # 1,000 USDT at 125x: 125,000 affordable, but 125x only below 50,000 (tier 1, docs/domain.md §2):
    # just under 50,000 / 100,000 = 0.5 BTC, in 0.001 lots -> 0.499
    m = max_open(binance, "BTCUSDT", balance=1_000, leverage=125, price=100_000, include_fee=False)
    assert m.qty == pytest.approx(0.499)
    # with the taker fee 0.05 %: 1,000 / (1/20 + 0.0005) = 19,801.98 notional -> 0.198 BTC
    m = max_open(binance, "BTCUSDT", balance=1_000, leverage=20, price=100_000)
    assert m.qty == pytest.approx(0.198) and m.cost <= 1_000
    expected = whatif.max_open_size(balance=1_000, leverage=20, price=100_000, tiers=binance.contract("BTCUSDT").tiers,
                                    fee_rate=0.0005, lot_size=binance.contract("BTCUSDT").lot_size)
    assert m.qty == expected


@pytest.mark.parametrize(("call", "field", "text"), [
    (lambda: pnl_and_roe(side="long", qty="abc", entry=1, exit_price=1, leverage=1), "qty", "expected a number > 0"),
    (lambda: pnl_and_roe(side="long", qty=1, entry=1, exit_price=0, leverage=1), "exit_price", "> 0"),
    (lambda: pnl_and_roe(side="long", qty=1, entry=1, exit_price=1, leverage=0.5), "leverage", "in [1, 1000]"),
    (lambda: pnl_and_roe(side="sideways", qty=1, entry=1, exit_price=1, leverage=1), "side", "long"),
    (lambda: target_price(side="long", entry=100, leverage=10, roe_pct=-1_000), "roe", "above -1,000 %"),
    (lambda: target_price(side="long", entry=100, leverage=10, roe_pct="nan"), "roe", "finite"),
    (lambda: max_open(PS.get("binance"), "BTCUSDT", balance=100, leverage=200, price=1), "leverage",
     "in [1, 125]"),
    (lambda: max_open(PS.get("binance"), "BTCUSDT", balance=-1, leverage=2, price=1), "balance", "> 0"),
    (lambda: risk_size(balance=1, risk_pct=101, entry=2, stop=1), "risk", "in (0, 100]"),
    (lambda: risk_size(balance=1, risk_pct=1, entry=2, stop=2), "stop", "equals the entry"),
    (lambda: average_entry([1, 2], [1]), "fills", "2 prices but 1"),
    (lambda: average_entry([], []), "fills", "at least one"),
    (lambda: average_entry([1, -2], [1, 1]), "fills[1].price", "> 0"),
    (lambda: average_entry([1, 2], [1, ""]), "fills[1].qty", "is empty"),
])
def test_bad_input_names_field_and_range(call, field, text):
    with pytest.raises(InvalidInputError) as ei:
        call()
    assert ei.value.field == field
    assert text in ei.value.reason


def test_number_parsing():
    assert number("x", " 1_000.5 ") == 1_000.5
    assert number("x", 3) == 3.0 and isinstance(number("x", 3), float)
    for bad in (True, None, "inf", math.inf, "1e400"):
        with pytest.raises(InvalidInputError):
            number("x", bad)

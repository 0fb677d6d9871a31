"""quote_account / quote_position: validation messages, JSON contract, explanations."""
from __future__ import annotations

import json
import math

import pytest

from core.errors import InvalidInputError, InvalidPositionError, UnknownProfileError
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import Contract, Profile, Rules, load_profiles
from core.quote import quote_account, quote_many, quote_position, validate_position
from core.tiers import TierTable

PS = load_profiles([exchanges_dir()])
CLASSIC, BINANCE = PS.get("classic"), PS.get("binance")


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"qty_base": -1.0}, "qty"),
        ({"qty_base": 0.0}, "qty"),
        ({"qty_base": math.nan}, "qty"),
        ({"entry_price": math.nan}, "entry"),
        ({"entry_price": math.inf}, "entry"),
        ({"entry_price": -5.0}, "entry"),
        ({"leverage": 0.5}, "leverage"),
        ({"leverage": math.nan}, "leverage"),
        ({"margin_usd": -1.0}, "margin"),
        ({"margin_usd": math.nan}, "margin"),
    ],
)
def test_position_refuses_bad_numbers(kw, field):
    base = {"symbol": "BTCUSDT", "side": Side.LONG, "qty_base": 1.0, "entry_price": 60_000.0, "leverage": 10.0}
    base.update(kw)
    with pytest.raises(InvalidPositionError) as ei:
        Position(**base)
    assert ei.value.field == field and field in str(ei.value)


def test_leverage_above_tier_max_names_max():
    # classic tier 3 (250k-1M) allows 50x; 5 x 68,000 = 340,000 at 60x is refused.
    with pytest.raises(InvalidPositionError) as ei:
        quote_position(CLASSIC, Position("BTCUSDT", Side.LONG, 5, 68_000, 60))
    assert ei.value.field == "leverage"
    assert "50x" in ei.value.reason and "allowed 1-50" in ei.value.reason


def test_leverage_at_one_over_mmr_refused():
    prof = Profile(id="t", name="t", as_of="2025-01-01", source="test", rules=Rules(),
                   contracts={"X": Contract("X", TierTable.single(mmr=0.02, max_leverage=100))})
    # MMR 2 % -> 50x leaves IM = MM: refused; 49.9x allowed.
    with pytest.raises(InvalidPositionError, match="below 50x") as ei:
        validate_position(prof, Position("X", Side.SHORT, 1, 10, 50))
    assert ei.value.field == "leverage"
    validate_position(prof, Position("X", Side.SHORT, 1, 10, 49.9))


def test_notional_above_top_tier_refused():
    # classic top cap 5,000,000: 100 BTC at 60,000 = 6,000,000.
    with pytest.raises(InvalidPositionError) as ei:
        quote_position(CLASSIC, Position("BTCUSDT", Side.LONG, 100, 60_000, 1))
    assert ei.value.field == "qty" and "5,000,000" in ei.value.reason


def test_unknown_symbol():
    with pytest.raises(UnknownProfileError) as ei:
        quote_position(BINANCE, Position("SOLANAUSDT", Side.LONG, 1, 0.1, 10))
    assert ei.value.field == "symbol"


def test_multi_position_errors_name_the_index():
    ok = Position("BTCUSDT", Side.LONG, 0.1, 60_000, 10)
    bad = Position("BTCUSDT", Side.LONG, 0.1, 60_000, 200)
    acc = Account("binance", wallet_usd=1_000, positions=(ok, bad))
    with pytest.raises(InvalidInputError) as ei:
        quote_account(BINANCE, acc)
    assert ei.value.field == "positions[1].leverage" and "125x" in str(ei.value)


def test_as_dict_json_contract_has_floats_and_nulls():
    # ints in, floats out: uPnL at an unmoved mark is 0.0, not 0
    q = quote_position(BINANCE, Position("BTCUSDT", Side.LONG, 1, 60_000, 1, margin_usd=60_000))
    d = q.as_dict()
    assert type(d["unrealized_pnl"]) is float and d["unrealized_pnl"] == 0.0
    for key in ("qty", "entry", "leverage", "mark", "notional", "initial_margin", "maintenance_margin",
                "margin", "equity", "close_fee"):
        assert type(d[key]) is float, key
    assert d["liquidation_price"] is None and d["distance_to_liquidation"] is None
    json.dumps(d, allow_nan=False)


def test_quote_values_of_the_faq_position():
    # docs/domain.md §5 at mark 65,000: uPnL = 5 x (65,000 - 68,000) = -15,000; equity 34,000 - 15,000
    # = 19,000; MM stays 3,400 on the entry basis; ratio 3,400/19,000; distance (65,000-61,880)/65,000.
    acc = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 5, 68_000, 10),), marks={"BTCUSDT": 65_000})
    q = quote_account(CLASSIC, acc).positions[0]
    assert q.unrealized_pnl == pytest.approx(-15_000.0)
    assert q.equity == pytest.approx(19_000.0)
    assert q.maintenance_margin == pytest.approx(3_400.0)
    assert q.margin_ratio == pytest.approx(3_400 / 19_000)
    assert q.distance_to_liquidation == pytest.approx((65_000 - 61_880) / 65_000)
    assert q.notional == pytest.approx(325_000.0)
    assert not q.liquidatable_now
    # at 61,000 it is below its liquidation price
    q2 = quote_account(CLASSIC, acc.with_mark("BTCUSDT", 61_000)).positions[0]
    assert q2.liquidatable_now and q2.margin_ratio > 1


def test_explain_fills_in_numbers():
    q = quote_position(CLASSIC, Position("BTCUSDT", Side.LONG, 5, 68_000, 10))
    ex = q.explain
    assert set(ex) >= {"notional", "initial_margin", "maintenance_margin", "unrealized_pnl", "margin_ratio",
                       "liquidation_price", "bankruptcy_price"}
    assert "34,000" in ex["initial_margin"] and "3,400" in ex["maintenance_margin"]
    assert "61,880" in ex["liquidation_price"] and "61,200" in ex["bankruptcy_price"]


def test_cross_account_totals():
    p1 = Position("BTCUSDT", Side.LONG, 1, 60_000, 20, mode=MarginMode.CROSS)
    p2 = Position("ETHUSDT", Side.SHORT, 10, 3_000, 20, mode=MarginMode.CROSS)
    iso = Position("BTCUSDT", Side.SHORT, 0.5, 61_000, 10)
    aq = quote_many(BINANCE, [p1, p2, iso], marks={"BTCUSDT": 59_000, "ETHUSDT": 3_100}, wallet=5_000)
    # cross equity = 5,000 + 1 x (59,000 - 60,000) + (-10) x (3,100 - 3,000) = 3,000;
    # cross MM: BTC 59,000 is in bracket 2 (50k-600k): 0.5 % x 59,000 - 50 = 245; ETH 31,000 in
    # bracket 1: 0.4 % x 31,000 = 124; total 369; ratio 369 / 3,000 = 0.123.
    assert aq.cross_equity == pytest.approx(3_000.0)
    assert aq.cross_maintenance == pytest.approx(369.0)
    assert aq.cross_margin_ratio == pytest.approx(0.123)
    assert not aq.cross_liquidatable_now
    # the isolated position does not take part
    assert aq.positions[2].equity == pytest.approx(3_050.0 + 0.5 * (61_000 - 59_000))
    json.dumps(aq.as_dict(), allow_nan=False)


# ---------------------------------------------------------------------------------------------
# Numbers for people


@pytest.mark.parametrize(
    ("x", "tick", "text"),
    [
        (61_880.0, 0.1, "61,880.0"),       # docs/domain.md §5 LP on BTCUSDT's 0.1 tick
        (61_818.1818, 0.1, "61,818.2"),
        (0.32323, 0.0001, "0.3232"),
        (2.5, 1.0, "2"),                    # half to even
        (3.5, 1.0, "4"),
        (-0.04, 0.1, "0.0"),                # never "-0.0"
        (math.nan, 0.1, "--"),
        (None, 0.1, "--"),
    ],
)
def test_fmt_price(x, tick, text):
    from core import fmt
    assert fmt.price(x, tick) == text


def test_fmt_pct_money_num():
    from core import fmt
    assert fmt.pct(0.1) == "10.00 %" and fmt.pct(math.inf) == "∞" and fmt.pct(-math.inf) == "-∞"
    assert fmt.pct(math.nan) == "--" and fmt.money(34_000) == "34,000.00" and fmt.money(None) == "--"
    assert fmt.num(340_000.0) == "340,000" and fmt.num(0.01) == "0.01" and fmt.num(math.nan) == "--"


def test_side_words():
    from core.margin import side_sign
    assert side_sign("long") == 1.0 and side_sign("SELL") == -1.0 and side_sign(Side.SHORT) == -1.0
    with pytest.raises(InvalidInputError) as ei:
        side_sign("lnog")
    assert ei.value.field == "side"


def test_cross_margin_ratio_explained_with_account_totals():
    p1 = Position("BTCUSDT", Side.LONG, 1, 60_000, 20, mode=MarginMode.CROSS)
    p2 = Position("ETHUSDT", Side.SHORT, 10, 3_000, 20, mode=MarginMode.CROSS)
    aq = quote_many(BINANCE, [p1, p2], marks={"BTCUSDT": 59_000, "ETHUSDT": 3_100}, wallet=5_000)
    q = aq.positions[0]
    # 369 / 3,000 (see test_cross_account_totals): the text's numbers give the ratio shown
    assert q.account_maintenance == pytest.approx(369.0)
    assert q.margin_ratio == pytest.approx(369 / 3_000)
    assert "369" in q.explain["margin_ratio"] and "3,000" in q.explain["margin_ratio"]
    assert "12.30 %" in q.explain["margin_ratio"]


def test_bybit_cross_liquidation_price_agrees_with_the_margin_ratio():
    # issue 9: 1 BTC long at 60,000, 50x cross, wallet 332.5 under bybit printed MM 332.84 above the
    # wallet and LP 60,000.3 above the mark, yet margin ratio 99.95 % and "liquidatable: no".
    # One fee-to-close rule: 0.055 % x 1 x 60,000 x (1 - 1/50) = 32.34 (at the bankruptcy price of
    # the initial margin); MM = 0.5 % x 60,000 + 32.34 = 332.34 <= 332.5; LP solves
    # 332.5 - 32.34 + (P - 60,000) = 0.005 P  ->  P = 59,699.84 / 0.995 = 59,999.8392...
    bybit = PS.get("bybit")
    acct = Account("bybit", 332.5, (Position("BTCUSDT", Side.LONG, 1, 60_000, 50, MarginMode.CROSS),),
                   {"BTCUSDT": 60_000})
    q = quote_account(bybit, acct).positions[0]
    assert q.maintenance_margin == pytest.approx(332.34, abs=1e-9)
    assert q.account_maintenance == q.maintenance_margin  # one number, shown and used by the ratio
    assert q.liquidation_price == pytest.approx(59_699.84 / 0.995, rel=1e-12)
    assert not q.liquidatable_now and q.margin_ratio < 1
    assert q.liquidation_price < q.mark


@pytest.mark.parametrize("pid", sorted(PS.ids))
@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_liquidatable_now_exactly_when_the_mark_is_at_or_past_the_liquidation_price(pid, side):
    # the liquidation price, the margin ratio and the liquidatable test come from one rule: stepping
    # the mark across the LP flips the test, cross and isolated, on every shipped profile
    prof = PS.get(pid)
    sym = prof.symbols[0]
    c = prof.contract(sym)
    # 1 BTC at 60,000 with 3,500 USDT of cross wallet; an inverse contract: the same in contracts and coin
    qty, cash = (60_000 / c.size, 3_500 / 60_000) if c.is_inverse else (1.0, 3_500.0)
    for mode in (MarginMode.ISOLATED, MarginMode.CROSS):
        pos = Position(sym, side, qty, 60_000, 20, mode)
        wallet = cash if mode is MarginMode.CROSS else 0.0
        lp = quote_account(prof, Account(pid, wallet, (pos,), {sym: 60_000})).positions[0].liquidation_price
        for frac, liquidatable in ((1e-6, False), (-1e-6, True)):
            mark = lp * (1 + side.sign * frac)
            q = quote_account(prof, Account(pid, wallet, (pos,), {sym: mark})).positions[0]
            assert q.liquidatable_now is liquidatable, (pid, side, mode, mark, lp)
            assert (q.margin_ratio >= 1) is liquidatable


def test_bybit_btcusdt_beyond_risk_limit_1_uses_its_published_deduction():
    # Bybit's Margin Parameters page, BTCUSDT tier 4: 3,200,000-3,800,000, 75x, MMR 0.67 %,
    # deduction 4,300. 50 BTC long at 68,000 = 3,400,000: MM = 0.0067 x 3,400,000 - 4,300 = 18,480,
    # plus the fee to close 0.055 % x 50 x 68,000 x (1 - 1/20) = 1,776.50.
    q = quote_position(PS.get("bybit"), Position("BTCUSDT", Side.LONG, 50, 68_000, 20))
    assert q.tier.index == 3 and q.tier.maintenance_amount == 4_300
    assert q.maintenance_margin - q.close_fee == pytest.approx(18_480.0, abs=1e-6)
    assert q.close_fee == pytest.approx(1_776.5, abs=1e-6)

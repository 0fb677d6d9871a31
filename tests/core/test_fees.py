"""Trading fees: each golden value names its source (an exchange's example or a derivation here)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import calculators, fees, whatif
from core.errors import InvalidInputError
from core.model import Account, FeeRates, Liquidity, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import load_profiles
from core.quote import quote_account, quote_position

PROFILES = load_profiles([exchanges_dir()])
CLASSIC = PROFILES.get("classic")
BYBIT = PROFILES.get("bybit")
BINANCE = PROFILES.get("binance")


def finite(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


# ------------------------------------------------------------------------------------ golden values


def test_binance_commission_examples():
    # Binance FAQ "Binance Futures Fee Structure & Fee Calculations" (https://binance.com/fr/support/faq/360033544231),
    # regular tier: buy 1 BTC at 10,104 by market (taker 0.05 %) -> 5.052 USDT; sell at 11,104 by
    # a limit order (maker 0.02 %) -> 2.2208 USDT
    assert fees.trade_fee(qty=1, price=10_104, rate=BINANCE.rules.taker_fee) == pytest.approx(5.052, abs=1e-12)
    assert fees.trade_fee(qty=1, price=11_104, rate=BINANCE.rules.maker_fee) == pytest.approx(2.2208, abs=1e-12)
    # the same round trip as the profile's order types: open by market, close by a limit order
    open_rate, close_rate = fees.order_fee_rates(BINANCE, FeeRates(close=Liquidity.MAKER))
    q = quote_position(BINANCE, Position("BTCUSDT", Side.LONG, 1, 10_104, 20), mark=11_104,
                       fees=FeeRates(close=Liquidity.MAKER))
    assert (open_rate, close_rate) == (0.0005, 0.0002)
    assert q.open_fee == pytest.approx(5.052, abs=1e-12)
    assert q.close_fee_at_mark == pytest.approx(2.2208, abs=1e-12)


def test_bybit_closed_pnl_example():
    # Bybit "P&L calculations (USDT Contract)" (copies: https://www.pastorq.com/7518.html,
    # https://wuyelx.com/2191.html): short 0.4 BTC from 6,000 closed at 5,000, taker 0.055 % both
    # ways, 2.10 USDT of funding paid: 400 - 1.32 - 1.10 - 2.10 = 395.48
    r = BYBIT.rules.taker_fee
    assert fees.trade_fee(qty=0.4, price=6_000, rate=r) == pytest.approx(1.32, abs=1e-12)
    assert fees.trade_fee(qty=0.4, price=5_000, rate=r) == pytest.approx(1.10, abs=1e-12)
    assert fees.net_pnl(side=-1, qty=0.4, entry=6_000, exit_price=5_000, open_rate=r, close_rate=r,
                        funding_paid=2.10) == pytest.approx(395.48, abs=1e-9)


def test_bybit_roi_example_through_the_quote():
    # the same Bybit page: long 0.2 BTC at 7,000, 10x, mark 7,500: uPnL 100, position margin =
    # IM 140 + fee to close at the bankruptcy price 6,300 x 0.2 x 0.055 % = 0.693; ROI = 100 / 140.693
    # = 71.0767 % (the page prints 71.07 %, truncated)
    q = quote_position(BYBIT, Position("BTCUSDT", Side.LONG, 0.2, 7_000, 10), mark=7_500)
    assert q.unrealized_pnl == pytest.approx(100.0)
    assert q.initial_margin == pytest.approx(140.693, abs=1e-9)
    assert q.roe == pytest.approx(0.710767, abs=5e-7)
    # net: 100 - 0.77 (open at 7,000) - 0.825 (close at 7,500) on the same 140.693
    assert q.net_unrealized_pnl == pytest.approx(100 - 0.77 - 0.825, abs=1e-9)
    assert q.net_roe == pytest.approx((100 - 1.595) / 140.693, abs=1e-12)


def test_break_even_golden_values():
    # https://www.tradingcalc.io/crypto-breakeven-calculator: a long at 65,000 with 0.05 % to open
    # and to close breaks even at 65,065.03 (65,032.5 / 0.9995 = 65,065.0325...)
    be = fees.break_even_price(side=1, qty=1, entry=65_000, open_rate=0.0005, close_rate=0.0005)
    assert round(be, 2) == 65_065.03
    # the short mirror, derived: 65,000 x 0.9995 / 1.0005 = 64,935.03
    assert round(fees.break_even_price(side=-1, qty=1, entry=65_000, open_rate=0.0005, close_rate=0.0005), 2) == 64_935.03
    # with 100 USDT of funding paid on 1 BTC long at 68,000 (derived): (68,034 + 100) / 0.9995 = 68,168.08
    assert round(fees.break_even_price(side=1, qty=1, entry=68_000, open_rate=0.0005, close_rate=0.0005,
                                       funding_paid=100), 2) == 68_168.08
    # the crude form EP x (1 + f_o + f_c) misses the close fee on the exit's own value (docs/domain.md §9.5)
    assert be - 65_000 * 1.001 == pytest.approx(65_000 * 0.0005 * 0.001 / 0.9995, rel=1e-6)


def test_quote_break_even_counts_funding_paid():
    q = quote_position(CLASSIC, Position("BTCUSDT", Side.LONG, 5, 68_000, 10, funding_paid=306.0))
    # (5 x 68,000 x 1.0005 + 306) / (5 x 0.9995), derived from docs/domain.md §9.5
    assert q.break_even_price == pytest.approx((340_170 + 306) / (5 * 0.9995), rel=1e-12)
    assert q.net_unrealized_pnl == pytest.approx(-170 - 170 - 306, abs=1e-9)
    d = q.as_dict()
    assert {"open_fee", "close_fee_at_mark", "break_even_price", "net_unrealized_pnl", "funding_paid"} <= set(d)


def test_exit_for_net_roe_golden():
    # derived (docs/domain.md §9.5): 5 BTC long at 68,000, 10x (margin 34,000), 50 % net, 0.05 % each way:
    # X = (17,000 + 340,000 + 170) / (5 x 0.9995) = 71,469.73
    x = fees.exit_for_net_roe(side=1, qty=5, entry=68_000, margin=34_000, roe=0.5, open_rate=0.0005, close_rate=0.0005)
    assert round(x, 2) == 71_469.73
    assert fees.net_roe(side=1, qty=5, entry=68_000, exit_price=x, margin=34_000, open_rate=0.0005,
                        close_rate=0.0005) == pytest.approx(0.5, abs=1e-12)
    # the calculators give both: 71,400 before fees, 71,469.73 after
    assert calculators.target_price(side="long", entry=68_000, leverage=10, roe_pct=50) == 71_400
    assert round(calculators.target_price_net(side="long", entry=68_000, leverage=10, roe_pct=50, open_rate=0.0005,
                                              close_rate=0.0005), 2) == 71_469.73


def test_calculators_gross_and_net():
    r = calculators.pnl_and_roe(side="short", qty=0.4, entry=6_000, exit_price=5_000, leverage=10,
                                open_rate=0.00055, close_rate=0.00055)
    # Bybit's example without its funding: 400 - 1.32 - 1.10 = 397.58 on a margin of 240
    assert r.pnl == pytest.approx(400.0) and r.net_pnl == pytest.approx(397.58, abs=1e-9)
    assert r.fees == pytest.approx(2.42, abs=1e-9) and r.net_roe == pytest.approx(397.58 / 240, abs=1e-12)
    s = calculators.risk_size(balance=10_000, risk_pct=1, entry=68_000, stop=66_000, open_rate=0.0005,
                              close_rate=0.0005)
    # derived: 100 / (2,000 + 34 + 33); the loss at the stop with both fees is exactly 100
    assert s.qty_net == pytest.approx(100 / 2_067, rel=1e-12)
    loss = -fees.net_pnl(side=1, qty=s.qty_net, entry=68_000, exit_price=66_000, open_rate=0.0005, close_rate=0.0005)
    assert loss == pytest.approx(100.0, rel=1e-12)


def test_target_price_net_refuses_an_impossible_roe():
    # a short at 1x cannot lose nothing and make 99.99 % after fees: the net exit is below zero
    with pytest.raises(InvalidInputError) as e:
        calculators.target_price_net(side="short", entry=100, leverage=1, roe_pct=99.99, open_rate=0.001,
                                     close_rate=0.001)
    assert e.value.field == "roe" and "after fees" in e.value.reason


def test_account_fee_rates_replace_the_profile_everywhere():
    # a VIP taker rate of 0.02 % on Bybit: the fee to close inside IM and MM uses it too
    p = Position("BTCUSDT", Side.LONG, 1, 40_000, 50)
    base = quote_account(BYBIT, Account("bybit", positions=(p,)))
    vip = quote_account(BYBIT, Account("bybit", positions=(p,), fees=FeeRates(taker=0.0002)))
    # Bybit UTA example (docs/domain.md §1.4): 800 + 0.00055 x 40,000 x 0.98 = 821.56; at 0.02 %: 807.84
    assert base.positions[0].initial_margin == pytest.approx(821.56, abs=1e-9)
    assert vip.positions[0].initial_margin == pytest.approx(807.84, abs=1e-9)
    assert vip.profile.rules.taker_fee == 0.0002 and vip.positions[0].open_fee == pytest.approx(8.0)
    assert fees.with_fee_rates(BYBIT, None) is BYBIT and fees.with_fee_rates(BYBIT, FeeRates()) is BYBIT


def test_fee_rates_are_checked():
    with pytest.raises(InvalidInputError) as e:
        FeeRates(taker=0.5)
    assert e.value.field == "taker_fee"
    with pytest.raises(InvalidInputError) as e:
        FeeRates(open="limit")
    assert e.value.field == "fees.open"
    assert FeeRates(maker=-0.00025).maker == -0.00025  # BitMEX's maker rebate


def test_partial_close_reports_net_realised_pnl():
    # close 2 of 5 BTC long at 70,000 (classic, 0.05 % taker), 100 of funding paid so far (derived):
    # gross 4,000; net = 4,000 - 2 x 68,000 x 0.0005 - 2 x 70,000 x 0.0005 - 100 x 2/5 = 3,822
    p = Position("BTCUSDT", Side.LONG, 5, 68_000, 10, funding_paid=100.0)
    res = whatif.partial_close(CLASSIC, Account("classic", positions=(p,)), 0, 2, 70_000)
    assert res.realized_pnl == pytest.approx(4_000)
    assert res.realized_net_pnl == pytest.approx(4_000 - 68 - 70 - 40)
    assert res.position.funding_paid == pytest.approx(60.0)


# ------------------------------------------------------------------------------------ properties


@settings(max_examples=300, deadline=None)
@given(side=st.sampled_from([1, -1]), q=finite(1e-3, 1e3), ep=finite(1.0, 1e6), move=finite(-0.5, 0.5),
       fo=finite(-0.0005, 0.002).map(lambda r: round(r, 8)), fc=finite(-0.0005, 0.002).map(lambda r: round(r, 8)),
       funding=finite(-1e4, 1e4))
def test_net_is_gross_minus_fees_and_break_even_nets_zero(side, q, ep, move, fo, fc, funding):
    x = ep * (1 + move)
    with np.errstate(all="raise"):
        gross = side * q * (x - ep)
        net = fees.net_pnl(side=side, qty=q, entry=ep, exit_price=x, open_rate=fo, close_rate=fc, funding_paid=funding)
        assert net == pytest.approx(gross - fo * q * ep - fc * q * x - funding, rel=1e-9, abs=1e-9 * (q * ep + abs(funding)))
        be = fees.break_even_price(side=side, qty=q, entry=ep, open_rate=fo, close_rate=fc, funding_paid=funding)
    if math.isfinite(be):
        scale = q * max(ep, be) + abs(funding)
        assert fees.net_pnl(side=side, qty=q, entry=ep, exit_price=be, open_rate=fo, close_rate=fc,
                            funding_paid=funding) == pytest.approx(0.0, abs=1e-9 * scale)
    target = fees.exit_for_net_pnl(side=side, qty=q, entry=ep, pnl=net, open_rate=fo, close_rate=fc,
                                   funding_paid=funding)
    assert target == pytest.approx(x, rel=1e-7)


def test_broadcasting_equals_scalar_calls():
    sides, qs, eps, xs = np.array([1, -1, 1]), np.array([1.0, 2.0, 0.5]), np.array([100.0, 200.0, 300.0]), np.array(
        [110.0, 190.0, 250.0])
    arr = fees.net_pnl(side=sides, qty=qs, entry=eps, exit_price=xs, open_rate=0.0005, close_rate=0.0002)
    assert arr.tolist() == [fees.net_pnl(side=s, qty=q, entry=e, exit_price=x, open_rate=0.0005, close_rate=0.0002)
                            for s, q, e, x in zip(sides, qs, eps, xs, strict=True)]


def test_cross_position_quote_has_fees():
    q = quote_position(CLASSIC, Position("BTCUSDT", Side.SHORT, 1, 68_000, 10, mode=MarginMode.CROSS), mark=67_000,
                       wallet=10_000)
    assert q.open_fee == pytest.approx(34.0) and q.close_fee_at_mark == pytest.approx(33.5)
    assert q.net_unrealized_pnl == pytest.approx(1_000 - 34 - 33.5)


# ------------------------------------------------------------------------------------ inverse contracts


BYBIT_INVERSE = PROFILES.get("bybit-inverse")


def test_bybit_inverse_fee_example():
    # Bybit's trading fee article (copy http://refeshop.com/fanyong/futuojituan/2015/1112/277.html,
    # 2024-07-31): 10,000 BTCUSD contracts at 8,000: taker (10,000 / 8,000) x 0.055 % = 0.0006875 BTC,
    # maker x 0.02 % = 0.00025 BTC -- the fee is on the value in coin (docs/domain.md §9.6)
    prof = BYBIT_INVERSE
    pos = Position("BTCUSD", Side.LONG, 10_000, 8_000, 10)
    taker = quote_position(prof, pos)
    maker = quote_position(prof, pos, fees=FeeRates(open=Liquidity.MAKER, close=Liquidity.MAKER))
    assert taker.settle_asset == "BTC"
    assert taker.open_fee == pytest.approx(0.0006875, abs=1e-15)
    assert maker.open_fee == pytest.approx(0.00025, abs=1e-15)


def test_bybit_inverse_order_cost_example():
    # Bybit "Order Cost" (copy https://ukcamo.com/14820.html, taker 0.055 %): a 10,000 USD ETHUSD long
    # at 2,000, 25x: IM 5 / 25 = 0.2 ETH, fee to open 5 x 0.00055 = 0.00275, fee to close at the
    # bankruptcy price 5 x 1.04 x 0.00055 = 0.00286: order cost 0.20561 ETH
    q = quote_position(BYBIT_INVERSE, Position("ETHUSD", Side.LONG, 10_000, 2_000, 25))
    assert q.open_fee == pytest.approx(0.00275, abs=1e-15)
    assert q.initial_margin - 0.2 == pytest.approx(0.00286, abs=1e-15)  # the fee to close inside IM
    assert q.initial_margin + q.open_fee == pytest.approx(0.20561, abs=1e-12)


def test_inverse_break_even_and_funding_in_coin():
    # docs/domain.md §9.6, derived: an inverse long breaks even at EP (1 + f_c) / (1 - f_o) and pays
    # funding of contracts x size / mark x rate in coin (10,000 / 8,000 x 0.01 % = 0.000125 BTC)
    prof = BYBIT_INVERSE
    long_ = Position("BTCUSD", Side.LONG, 10_000, 8_000, 10)
    q = quote_position(prof, long_)
    assert q.break_even_price == pytest.approx(8_000 * 1.00055 / 0.99945, rel=1e-12)
    short = quote_position(prof, long_.with_(side=Side.SHORT))
    assert short.break_even_price == pytest.approx(8_000 * 0.99945 / 1.00055, rel=1e-12)
    hold = whatif.hold_with_funding(prof, Account(prof.id, positions=(long_,)), 0, 1, rate=0.0001)
    assert hold.funding.per_interval == pytest.approx(0.000125, abs=1e-15)
    assert hold.funding.paid == pytest.approx(3 * 0.000125, abs=1e-15)
    # the payment came out of the available balance first (Bybit), here empty: from the margin
    assert hold.after.margin == pytest.approx(q.margin - 3 * 0.000125, abs=1e-15)

"""Inverse (coin-margined) contracts: the exchanges' published examples, and the change of
coordinates that makes them linear positions at size/P (docs/domain.md §7).

Golden numbers name their source; where a page shows no result line, the hand derivation is written
in the comment (research notes: /work/wt/research-12-13.md, sections A1-A3).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core import calculators, fmt
from core.contracts import ContractType, frame_price, linear_frame
from core.errors import InvalidInputError
from core.liquidation import liquidation_price
from core.margin import (
    average_entry_price,
    contract_pnl,
    position_pnl_at_exit,
    qty_from_quote_value,
    quote_value,
    settle_notional,
)
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import Contract, FeeModel, MMBasis, Profile, Rules, load_profiles
from core.quote import order_cost, quote_account, quote_position, required_initial_margin
from core.tiers import TierTable
from core.whatif import add_margin, add_to_position

PS = load_profiles([exchanges_dir()])
COINM = PS.get("binance-coinm")
BYBIT_INV = PS.get("bybit-inverse")
BITMEX = PS.get("bitmex")


def _rules(profile: Profile, **changes: object) -> Profile:
    return dataclasses.replace(profile, rules=dataclasses.replace(profile.rules, **changes))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Golden: Binance COIN-M


def test_binance_coinm_forum_calculator_example():
    # Binance developer forum "Coin-Margined Futures Liquidation Price Calculation Help (CM variable)",
    # https://dev.binance.vision/t/coin-margined-futures-liquidation-price-calculation-help-cm-variable/6292:
    # cross, WB 101 BTC, 100,000 BTCUSD_PERP (100 USD) long from 45,000; Binance's calculator: 33,599.40.
    # At the LP the notional is 1e7 / 33,600 = 297.6 BTC: bracket 7 (200-400 BTC, 12.5 %, cum 11.605), and
    # LP = C*S*(1 + MMR) / (WB + cum + C*S/EP) = 1.125e7 / (101 + 11.605 + 222.2222) = 33,599.4186.
    q = quote_position(COINM, Position("BTCUSD_PERP", Side.LONG, 100_000, 45_000, 4, MarginMode.CROSS), wallet=101.0)
    assert q.liquidation_price == pytest.approx(33_599.4186, abs=1e-4)
    assert q.liquidation_price == pytest.approx(1e7 * 1.125 / (101 + 11.605 + 1e7 / 45_000), rel=1e-12)
    assert fmt.price(q.liquidation_price, 0.1) == "33,599.4"  # the calculator's 33,599.40 (0.1 tick)
    assert (q.liquidation_tier.index, q.liquidation_tier.maintenance_amount) == (6, 11.605)
    assert q.settle_asset == "BTC" and q.contract_type is ContractType.INVERSE and q.contract_size == 100


def test_binance_coinm_faq_maintenance_margin_example():
    # Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts"
    # (https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46): 100 BTCUSD contracts at
    # mark 25,000: notional 100 x 100 / 25,000 = 0.4 BTC (bracket 1), MM = 0.4 x 0.4 % - 0 = 0.0016 BTC.
    q = quote_account(COINM, Account("binance-coinm", 0.0, (Position("BTCUSD_PERP", Side.LONG, 100, 25_000, 20),),
                                     {"BTCUSD_PERP": 25_000})).positions[0]
    assert q.notional == pytest.approx(0.4) and q.maintenance_margin == pytest.approx(0.0016)
    assert q.tier.index == 0


def test_binance_coinm_maintenance_amounts_follow_the_faqs_recursion():
    # The same FAQ: "Level 5 = 50 BTC x (5 % - 2.5 %) + 0.355" (1.605 with the 5/10/20/50 BTC caps);
    # a 300 BTC position at 12.5 % has cum 11.605 BTC.
    t = COINM.contract("BTCUSD_PERP").tiers
    assert t.cum[4] == pytest.approx(1.605) and t.cum[6] == pytest.approx(11.605)


# ---------------------------------------------------------------------------------------------
# Golden: Bybit inverse, three generations of the rule


def test_bybit_classic_inverse_cross_example():
    # Bybit Help Center "How to calculate Liquidation Price (Inverse Contract)" (classic, pre-UTA),
    # https://help.bybit.com/hc/en-us/articles/360039261334: balance 0.5 BTC, buy 10,000 BTCUSD at 8,000,
    # taker 0.075 %, MMR 0.5 % of the ENTRY value plus the fee to close at the bankruptcy price:
    #   BP = 1.00075 x 10,000 / (10,000/8,000 + 0.5) = 5,718.57
    #   10,000 x (1/8,000 - 1/LP) = -(0.5 - 1.25 x 0.5 % - 10,000 x 0.00075 / 5,718.57) -> LP = 5,739.08,
    # which the page prints rounded up to the 0.5 tick: 5,739.50. A lone cross position's collateral is
    # the whole balance, so it is quoted here with that balance as its margin.
    classic = _rules(BYBIT_INV, mm_basis=MMBasis.ENTRY, fee_model=FeeModel.CLOSE_FEE, taker_fee=0.00075)
    q = quote_position(classic, Position("BTCUSD", Side.LONG, 10_000, 8_000, 50, margin_usd=0.5))
    assert q.bankruptcy_price == pytest.approx(5_718.5714, abs=1e-4)
    assert q.close_fee == pytest.approx(10_000 * 0.00075 / q.bankruptcy_price, rel=1e-12)
    assert q.liquidation_price == pytest.approx(5_739.0835, abs=1e-4)
    c = classic.contract("BTCUSD")
    assert c.round_price_toward_mark(q.liquidation_price, +1) == 5_739.5
    assert c.round_price_toward_mark(q.bankruptcy_price, +1) == 5_719.0


def test_bybit_classic_bankruptcy_rounding_directions():
    # Bybit "How to calculate Bankruptcy Price": long BPs rounded UP to 0.5, short ones DOWN. At 8,000,
    # 50x: long 8,000 x 50/51 = 7,843.14 -> 7,843.5; short 8,000 x 50/49 = 8,163.27 -> 8,163.0. The
    # inverse long is a short in its frame; the rounding is done on P with the position's own side.
    no_fee = _rules(BYBIT_INV, fee_model=FeeModel.NONE)
    c = no_fee.contract("BTCUSD")
    for side, exact, shown in ((Side.LONG, 8_000 * 50 / 51, 7_843.5), (Side.SHORT, 8_000 * 50 / 49, 8_163.0)):
        bp = quote_position(no_fee, Position("BTCUSD", side, 10_000, 8_000, 50)).bankruptcy_price
        assert bp == pytest.approx(exact, rel=1e-12)
        assert c.round_price_toward_mark(bp, side.sign) == shown


@pytest.mark.parametrize(("side", "expected"), [(Side.LONG, 45_662.10), (Side.SHORT, 55_248.62)])
def test_bybit_uta_2024_isolated_entry_basis(side, expected):
    # Bybit "Liquidation Price Calculation under Isolated Mode (UTA)", edition of 2024-09-10
    # (https://bybit.nl/nl-NL/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account):
    # LP_long = Qty / (PV + IM - MM), LP_short = Qty / (PV - (IM - MM)), MM on the ENTRY value. Its
    # example (60,000 USD of BTCUSD at 50,000, 10x, MMR 0.5 %) lost its result line; hand derivation:
    # PV 1.2 BTC, IM 0.12, MM 0.006: long 60,000 / 1.314 = 45,662.10, short 60,000 / 1.086 = 55,248.62.
    rules_2024 = _rules(BYBIT_INV, mm_basis=MMBasis.ENTRY, fee_model=FeeModel.NONE)
    q = quote_position(rules_2024, Position("BTCUSD", side, 60_000, 50_000, 10))
    assert q.initial_margin == pytest.approx(0.12) and q.maintenance_margin == pytest.approx(0.006)
    assert q.liquidation_price == pytest.approx(expected, abs=0.005)


@pytest.mark.parametrize(("side", "expected"), [(Side.LONG, 45_681.82), (Side.SHORT, 55_277.78)])
def test_bybit_uta_2026_isolated_mark_basis_with_fee_to_close(side, expected):
    # The same article as last updated 2026-05-27
    # (https://www.kbybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account):
    # LP_long = Size (1 + MMR) / (Size/EP + Size/EP/L + Extra/(1 + taker) + deduction), the short
    # mirrored; the fee to close in IM and in MM cancels. No extra: long 60,300 / 1.32 = 45,681.82,
    # short 59,700 / 1.08 = 55,277.78 (the bybit-inverse profile ships this generation).
    q = quote_position(BYBIT_INV, Position("BTCUSD", side, 60_000, 50_000, 10))
    assert q.liquidation_price == pytest.approx(expected, abs=0.005)


def test_bybit_uta_2026_extra_margin_enters_divided_by_one_plus_taker():
    # Same formula with Extra: the engine's close_fee model gives WB' = IM + Extra / (1 + taker).
    extra = 0.05
    base = quote_position(BYBIT_INV, Position("BTCUSD", Side.LONG, 60_000, 50_000, 10))
    q = quote_position(BYBIT_INV, Position("BTCUSD", Side.LONG, 60_000, 50_000, 10,
                                           margin_usd=base.initial_margin + extra))
    f = BYBIT_INV.rules.taker_fee
    assert q.liquidation_price == pytest.approx(60_000 * 1.005 / (1.2 + 0.12 + extra / (1 + f)), rel=1e-12)


def test_bybit_inverse_order_cost_and_initial_margin():
    # Bybit "Order Cost (Perpetuals & Futures Trading)", 2024-10-30
    # (https://testnet.bybit.com/en/help-center/article/Order-Cost-USDT-Contract), taker 0.055 %:
    # 10,000 ETHUSD long at 2,000, 25x: IM 0.2 + open fee 0.00275 + close fee 5 x 1.04 x 0.00055 = 0.20561 ETH.
    p = Position("ETHUSD", Side.LONG, 10_000, 2_000, 25)
    assert order_cost(BYBIT_INV, p) == pytest.approx(0.20561, abs=1e-12)
    assert required_initial_margin(BYBIT_INV, side=1, qty=10_000, entry=2_000, leverage=25,
                                   symbol="ETHUSD") == pytest.approx(0.2 + 0.00286, abs=1e-12)
    # Bybit "Initial Margin (Inverse Contract)": 12,000 BTCUSD at 8,000, 50x: 12,000 / (8,000 x 50) = 0.03 BTC
    no_fee = _rules(BYBIT_INV, fee_model=FeeModel.NONE)
    assert quote_position(no_fee, Position("BTCUSD", Side.LONG, 12_000, 8_000, 50)).initial_margin == pytest.approx(0.03)


def test_inverse_average_entry_is_the_harmonic_mean():
    # Bybit's inverse P&L articles: 50 contracts at 10,000 + 50 at 15,000 -> 100 / (50/10,000 + 50/15,000)
    # = 12,000; 1,000 at 5,000 + 2,000 at 6,000 -> 3,000 / 0.53333 = 5,625.00
    # (https://testnet.bytick.com/kk-KZ/help-center/article/Profit-Loss-calculations-Inverse-Contracts).
    c = BYBIT_INV.contract("BTCUSD")
    assert average_entry_price(c, [50, 50], [10_000, 15_000]) == pytest.approx(12_000, rel=1e-12)
    assert average_entry_price(c, [1_000, 2_000], [5_000, 6_000]) == pytest.approx(5_625, rel=1e-12)
    assert calculators.average_entry([5_000, 6_000], [1_000, 2_000], contract=c).price == pytest.approx(5_625)
    # add_to_position follows the same rule
    acct = Account("bybit-inverse", 1.0, (Position("BTCUSD", Side.LONG, 50, 10_000, 10),))
    w = add_to_position(BYBIT_INV, acct, 0, 50, 15_000)
    assert w.position is not None and w.position.entry_price == pytest.approx(12_000, rel=1e-12)


def test_bybit_inverse_unrealised_pnl():
    # Bybit's inverse P&L article: long 1,000 BTCUSD at 5,000, last 5,500: 1,000 x (1/5,000 - 1/5,500)
    # = 0.0181818 BTC (the page prints 0.01819).
    c = BYBIT_INV.contract("BTCUSD")
    assert contract_pnl(c, side=1, qty=1_000, entry=5_000, exit_price=5_500) == pytest.approx(1_000 / 55_000, rel=1e-12)
    # a long's loss per dollar grows as the price falls (the curvature the payoff panel shows)
    falls = np.asarray(position_pnl_at_exit(BYBIT_INV, Position("BTCUSD", Side.LONG, 1_000, 5_000, 10),
                                            [4_000, 3_000, 2_000]))
    assert (np.diff(falls) < 0).all() and (falls[0] - falls[1]) < (falls[1] - falls[2])


# ---------------------------------------------------------------------------------------------
# Golden: BitMEX


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_bitmex_liquidation_price_is_entry_over_one_plus_im_minus_mm(side):
    # BitMEX support's formula (quoted on r/BitMEX, 2019-10-12): LP_long = EP / (1 + IM - MM),
    # LP_short = EP / (1 - IM + MM), IM = 1/L, MM the maintenance rate, here 0.5 % + the taker fee
    # 0.075 % (BitMEX staff, 2020-03-09). 10,000 XBTUSD at 50,000, 10x: 50,000 / 1.09425 = 45,693.40.
    q = quote_position(BITMEX, Position("XBTUSD", side, 10_000, 50_000, 10))
    im, mm = 0.1, 0.005 + 0.00075
    expected = 50_000 / (1 + im - mm) if side is Side.LONG else 50_000 / (1 - im + mm)
    assert q.liquidation_price == pytest.approx(expected, rel=1e-12)
    assert q.settle_asset == "XBT" and q.initial_margin == pytest.approx(10_000 / 50_000 / 10)


def test_bitmex_maintenance_is_a_flat_rate_of_the_step():
    # BitMEX risk limits (https://bitmex.com/app/riskLimitsExamples): 180 XBT -> 0.50 % = 0.90 XBT;
    # 230 XBT is one step up: MM 1.00 %. (taker 0.075 % added by the profile's fee model)
    t = BITMEX.contract("XBTUSD").tiers
    assert t.mmr[t.index(180)] * 180 == pytest.approx(0.90) and t.mmr[t.index(230)] == 0.01


# ---------------------------------------------------------------------------------------------
# The change of coordinates


def test_domain_closed_form_falls_out_for_a_long_and_a_short():
    # DOMAIN §7: long P = C*S*(1 + MMR) / (WB + cum + C*S/EP); short P = C*S*(1 - MMR) / (C*S/EP - WB - cum)
    t = TierTable.single(mmr=0.01, max_leverage=50, maintenance_amount=0.002)
    s, q, x = linear_frame(ContractType.INVERSE, 100.0, 1.0, 2_000.0, 40_000.0)
    wb = 0.9
    lp_x = liquidation_price(side=s, qty=q, entry=x, wallet=wb, tiers=t)
    assert 100 / lp_x == pytest.approx(200_000 * 1.01 / (wb + 0.002 + 200_000 / 40_000), rel=1e-12)
    s, q, x = linear_frame(ContractType.INVERSE, 100.0, -1.0, 2_000.0, 40_000.0)
    lp_x = liquidation_price(side=s, qty=q, entry=x, wallet=wb, tiers=t)
    assert 100 / lp_x == pytest.approx(200_000 * 0.99 / (200_000 / 40_000 - wb - 0.002), rel=1e-12)


def test_a_short_at_one_x_is_fully_backed_and_a_long_always_has_a_price():
    for side, has_lp in ((Side.SHORT, False), (Side.LONG, True)):
        q = quote_position(COINM, Position("BTCUSD_PERP", side, 100, 50_000, 1))
        assert math.isfinite(q.liquidation_price) is has_lp, side
    # the JSON says null, people see "--"
    q = quote_position(COINM, Position("BTCUSD_PERP", Side.SHORT, 100, 50_000, 1))
    assert q.as_dict()["liquidation_price"] is None and fmt.price(q.liquidation_price, 0.1) == "--"


def test_quote_value_conversions_round_trip():
    c = COINM.contract("BTCUSD_PERP")
    assert quote_value(c, 3_400, 68_000) == 340_000 and qty_from_quote_value(c, 340_000, 1.0) == 3_400
    assert settle_notional(c, 3_400, 68_000) == pytest.approx(5.0)
    lin = PS.get("binance").contract("BTCUSDT")
    assert quote_value(lin, 5, 68_000) == 340_000 and qty_from_quote_value(lin, 340_000, 68_000) == 5


def test_an_account_settles_in_one_asset():
    acct = Account("binance-coinm", 1.0, (Position("BTCUSD_PERP", Side.LONG, 100, 50_000, 10),
                                          Position("ETHUSD_PERP", Side.LONG, 100, 3_000, 10)))
    with pytest.raises(InvalidInputError) as ei:
        quote_account(COINM, acct)
    assert ei.value.field == "positions[1].symbol"
    assert "ETHUSD_PERP settles in ETH but BTCUSD_PERP settles in BTC" in ei.value.reason


def test_explain_writes_the_arithmetic_in_coin():
    q = quote_position(COINM, Position("BTCUSD_PERP", Side.LONG, 100_000, 45_000, 4, MarginMode.CROSS), wallet=101.0)
    ex = q.explain
    assert ex["notional"].endswith("= 222.222222 BTC")
    assert "(1/entry - 1/mark)" in ex["unrealized_pnl"]
    assert "(1 + 0.125)" in ex["liquidation_price"] and "33,599.418606" in ex["liquidation_price"]


# ---------------------------------------------------------------------------------------------
# Properties


@st.composite
def inverse_cases(draw):
    """An inverse position on a custom one-table contract under any rule knobs, and its frame twin:
    the same rules on a linear contract with the frame's side, size and price (size/P)."""
    n = draw(st.integers(1, 4))
    caps = [draw(st.floats(1.0, 100.0))]
    for _ in range(n - 1):
        caps.append(caps[-1] * draw(st.floats(1.05, 10.0)))
    mmrs = [draw(st.floats(0.002, 0.02))]
    for _ in range(n - 1):
        mmrs.append(mmrs[-1] * draw(st.floats(1.05, 1.8)))
    tiers = TierTable.from_rows(floor=[0.0, *caps[:-1]], cap=caps, max_leverage=[min(125.0, 0.9 / m) for m in mmrs],
                                mmr=mmrs)
    rules = Rules(mm_basis=draw(st.sampled_from(list(MMBasis))), fee_model=draw(st.sampled_from(list(FeeModel))),
                  tier_at_liquidation=draw(st.booleans()), taker_fee=draw(st.one_of(st.just(0.0),
                                                                                    st.floats(1e-6, 0.002))))
    size = draw(st.sampled_from([1.0, 10.0, 100.0]))
    inv = Contract("INV", tiers, quote="USD", tick_size=0.5, lot_size=1.0, type=ContractType.INVERSE, size=size,
                   settle="BTC")
    lin = Contract("LIN", tiers, quote="BTC", tick_size=1e-9, lot_size=1.0)
    prof = Profile(id="p", name="p", as_of="2026-01-01", source="test", rules=rules, contracts={"INV": inv, "LIN": lin})
    entry = draw(st.floats(1_000.0, 200_000.0))
    coin_notional = draw(st.floats(0.01, caps[-1] * 0.99))
    contracts = coin_notional * entry / size
    k = int(tiers.index(coin_notional))
    lev = draw(st.floats(1.0, max(1.0, prof.effective_tiers("INV").leverage_cap(k))))
    side = draw(st.sampled_from([Side.LONG, Side.SHORT]))
    mode = draw(st.sampled_from(list(MarginMode)))
    mark = entry * draw(st.floats(0.8, 1.25))
    wallet = coin_notional * draw(st.floats(0.05, 2.0)) if mode is MarginMode.CROSS else 0.0
    return prof, Position("INV", side, contracts, entry, lev, mode), mark, wallet


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inverse_cases())
def test_inverse_equals_linear_in_size_over_p(case):
    prof, p, mark, wallet = case
    try:
        q = quote_account(prof, Account("p", wallet, (p,), {"INV": mark})).positions[0]
    except InvalidInputError:
        assume(False)
        return
    s, qty, x = linear_frame(ContractType.INVERSE, prof.contract("INV").size, float(p.sign), p.qty_base, p.entry_price)
    twin = Position("LIN", Side.LONG if s > 0 else Side.SHORT, qty, x, p.leverage, p.mode,
                    None if p.margin_usd is None else p.margin_usd)
    size = prof.contract("INV").size
    t = quote_account(prof, Account("p", wallet, (twin,), {"LIN": size / mark})).positions[0]
    for key in ("notional", "initial_margin", "maintenance_margin", "unrealized_pnl", "equity", "close_fee"):
        assert getattr(q, key) == pytest.approx(getattr(t, key), rel=1e-12, abs=1e-15), key
    for key in ("liquidation_price", "bankruptcy_price"):
        a, b = getattr(q, key), float(frame_price(ContractType.INVERSE, size, getattr(t, key)))
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12), key
    assert q.liquidatable_now is t.liquidatable_now and q.liquidation_tier.index == t.liquidation_tier.index


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inverse_cases())
def test_inverse_equity_equals_mm_at_lp_and_lp_is_never_beyond_bp(case):
    prof, p, mark, wallet = case
    try:
        with np.errstate(all="raise"):
            q = quote_account(prof, Account("p", wallet, (p,), {"INV": mark})).positions[0]
    except InvalidInputError:
        assume(False)
        return
    lp, bp = q.liquidation_price, q.bankruptcy_price
    if math.isfinite(lp) and math.isfinite(bp):
        assert p.sign * (lp - bp) >= -1e-9 * p.entry_price  # a long's LP at or above its BP, a short's below
    if not math.isfinite(lp):
        assert p.sign < 0  # only an inverse short can be backed beyond any liquidation price
        return
    at_lp = quote_account(prof, Account("p", wallet, (p,), {"INV": lp})).positions[0]
    # where MM is not floored at the bankruptcy price, equity = MM exactly there (in the coin), with
    # the MM shown at that mark (its tier chosen as the liquidation price's was)
    if abs(lp - bp) > 1e-9 * lp and at_lp.tier.index == q.liquidation_tier.index:
        assert at_lp.equity == pytest.approx(at_lp.maintenance_margin, rel=1e-9, abs=1e-12 * q.entry_notional)


@pytest.mark.parametrize("n", [50, 5_000])  # below and above the fast path's size
def test_inverse_arrays_match_one_position_at_a_time(n):
    # liquidation_price(contract_type=inverse) on arrays (chunked fast path for the larger size) equals
    # the scalar call per position, bit for bit, and the linear frame twin mapped back
    rng = np.random.default_rng(12)
    t = COINM.contract("BTCUSD_PERP").tiers
    side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    entry = rng.uniform(20_000, 100_000, n)
    coin = np.exp(rng.uniform(np.log(1e-3), np.log(900.0), n))
    contracts = coin * entry / 100.0
    wallet = coin * rng.uniform(0.01, 1.5, n)
    kw = {"tiers": t, "contract_type": ContractType.INVERSE, "contract_size": 100.0}
    arr = liquidation_price(side=side, qty=contracts, entry=entry, wallet=wallet, **kw)
    one = [liquidation_price(side=float(s), qty=float(c), entry=float(e), wallet=float(w), **kw)
           for s, c, e, w in zip(side, contracts, entry, wallet, strict=True)]
    np.testing.assert_array_equal(arr, np.array(one))
    twin = liquidation_price(side=-side, qty=contracts, entry=100.0 / entry, wallet=wallet, tiers=t)
    np.testing.assert_array_equal(arr, 100.0 / twin)
    assert not np.isnan(arr[side > 0]).any()  # an inverse long always has a price; only shorts may lack one


def test_calculators_on_an_inverse_contract():
    c = BYBIT_INV.contract("BTCUSD")
    # Bybit's inverse P&L example at 10x: PnL 0.0181818 BTC on a margin of 1,000 / 5,000 / 10 = 0.02 BTC
    r = calculators.pnl_and_roe(side="long", qty=1_000, entry=5_000, exit_price=5_500, leverage=10, contract=c)
    assert r.pnl == pytest.approx(1_000 / 55_000) and r.margin == pytest.approx(0.02)
    assert r.roe == pytest.approx(r.pnl / 0.02)
    # +50 % at 10x: in the frame x = x_e (1 - 0.05), so P = 50,000 / 0.95 = 52,631.58; and back
    p = calculators.target_price(side="long", entry=50_000, leverage=10, roe_pct=50, contract=c)
    assert p == pytest.approx(50_000 / 0.95)
    back = calculators.pnl_and_roe(side="long", qty=1, entry=50_000, exit_price=p, leverage=10, contract=c)
    assert back.roe == pytest.approx(0.5)
    with pytest.raises(InvalidInputError) as ei:  # an inverse long can make less than 10 x 100 %
        calculators.target_price(side="long", entry=50_000, leverage=10, roe_pct=1_000, contract=c)
    assert ei.value.field == "roe" and "infinite" in ei.value.reason
    # 1 BTC at 10x, price 50,000, no fee: 10 BTC of notional = 500,000 contracts of 1 USD
    m = calculators.max_open(BYBIT_INV, "BTCUSD", balance=1, leverage=10, price=50_000, include_fee=False)
    assert m.qty == 500_000 and m.notional == pytest.approx(10.0) and m.cost == pytest.approx(1.0)
    # risk 1 % of 0.1 BTC with a stop at 45,000 from 50,000: 0.001 / (1/45,000 - 1/50,000) = 450 contracts
    k = calculators.risk_size(balance=0.1, risk_pct=1, entry=50_000, stop=45_000, contract=c)
    assert k.qty == pytest.approx(450.0) and k.loss_at_stop == pytest.approx(0.001) and k.side is Side.LONG


def test_net_target_on_an_inverse_contract_by_hand():
    c = COINM.contract("BTCUSD_PERP")  # 100 USD a contract
    # long from 60,000 at 5x, +50 % after 0.05 % each way. In the frame a short at x_e = 100/60,000 BTC a
    # contract on a margin of x_e/5: (x_e - x) - 0.0005 x_e - 0.0005 x = 0.5 x_e/5, so
    # x = x_e (1 - 0.0005 - 0.1) / 1.0005 and P = 100/x = 60,000 x 1.0005 / 0.8995 = 66,737.08
    p = calculators.target_price_net(side="long", entry=60_000, leverage=5, roe_pct=50, open_rate=0.0005,
                                     close_rate=0.0005, contract=c)
    assert p == pytest.approx(60_000 * 1.0005 / 0.8995, rel=1e-12) and round(p, 2) == 66_737.08
    # a short: a frame long, (x - x_e) - 0.0005 x_e - 0.0005 x = 0.1 x_e, x = x_e x 1.1005 / 0.9995,
    # P = 60,000 x 0.9995 / 1.1005 = 54,493.41
    p = calculators.target_price_net(side="short", entry=60_000, leverage=5, roe_pct=50, open_rate=0.0005,
                                     close_rate=0.0005, contract=c)
    assert round(p, 2) == 54_493.41
    # a long can make less than 5 x (1 - 0.0005) = 499.75 % after the fees, though 499.8 % before them
    assert calculators.target_price(side="long", entry=60_000, leverage=5, roe_pct=499.8, contract=c) > 0
    with pytest.raises(InvalidInputError) as ei:
        calculators.target_price_net(side="long", entry=60_000, leverage=5, roe_pct=499.8, open_rate=0.0005,
                                     close_rate=0.0005, contract=c)
    assert ei.value.field == "roe" and "after fees" in ei.value.reason


@settings(max_examples=300, deadline=None)
@given(size=st.sampled_from([1.0, 10.0, 100.0]), side=st.sampled_from([Side.LONG, Side.SHORT]),
       qty=st.floats(1, 1e6), entry=st.floats(100, 1e6), leverage=st.floats(1, 125),
       open_rate=st.floats(0, 0.001), close_rate=st.floats(0, 0.001), roe_pct=st.floats(-2_000, 20_000))
def test_net_target_round_trips_through_pnl_and_roe_on_an_inverse_contract(size, side, qty, entry, leverage,
                                                                            open_rate, close_rate, roe_pct):
    # the net ROE of an exit at the net target, both fees counted, is the ROE asked for; an ROE is refused
    # exactly where no finite price reaches it: a long's above L (1 - f_open), a short's at or below -L
    c = dataclasses.replace(COINM.contract("BTCUSD_PERP"), size=size)
    kw = {"side": side, "entry": entry, "leverage": leverage}
    bound = leverage * 100 * (1 - open_rate) if side is Side.LONG else -leverage * 100
    beyond = roe_pct >= bound if side is Side.LONG else roe_pct <= bound
    assume(abs(roe_pct - bound) > 1e-6 * max(abs(bound), 1.0))  # not on the edge, where rounding decides
    try:
        p = calculators.target_price_net(**kw, roe_pct=roe_pct, open_rate=open_rate, close_rate=close_rate,
                                         contract=c)
    except InvalidInputError as exc:
        assert beyond and exc.field == "roe"
        return
    assert not beyond and math.isfinite(p) and p > 0
    back = calculators.pnl_and_roe(**kw, qty=qty, exit_price=p, open_rate=open_rate, close_rate=close_rate,
                                   contract=c)
    assert back.net_roe == pytest.approx(roe_pct / 100, rel=1e-9, abs=1e-9)


def test_what_if_refusals_name_coin_amounts_in_the_coin():
    # 1,000 BTCUSD_PERP (100 USD each) from 50,000 at 10x, isolated, on a 0.05 BTC wallet: IM =
    # 100,000 / 50,000 / 10 = 0.2 BTC. Adding 0.3 BTC of margin is more than the wallet holds; at
    # two decimals the message used to read "0.30 ... allowed up to 0.05", which reads as dollars.
    pos = Position("BTCUSD_PERP", Side.LONG, 1_000, 50_000, 10, MarginMode.ISOLATED)
    acct = Account("binance-coinm", 0.05, (pos,), {"BTCUSD_PERP": 50_000})
    with pytest.raises(InvalidInputError) as ei:
        add_margin(COINM, acct, 0, 0.3)
    assert ei.value.field == "amount"
    assert "0.30000000 BTC is more than the free balance" in ei.value.reason
    assert "allowed up to 0.05000000 BTC" in ei.value.reason

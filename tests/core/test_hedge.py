"""Position modes and the one liquidation price of a symbol's cross legs (docs/domain.md §8).

Golden numbers name their source or carry their hand derivation; the properties check the joint
price against its equation (equity = MM with every leg of the symbol at that price and every other
symbol at its mark), written out here independently of the solver.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.errors import InvalidInputError
from core.liquidation import joint_liquidation_price, liquidation_price
from core.margin import contract_pnl, maintenance_margin, settle_notional
from core.model import Account, MarginMode, Position, PositionMode, Side, check_position_mode
from core.paths import exchanges_dir, scenarios_dir
from core.prices import PricePath
from core.profiles import Contract, Profile, Rules, load_profiles
from core.quote import quote_account
from core.scenario import load_scenario, scenario_from_dict, scenario_to_dict
from core.simulate import EventKind, simulate
from core.tiers import TierTable

PS = load_profiles([exchanges_dir()])
BINANCE = PS.get("binance")
CROSS = MarginMode.CROSS


def _equity_and_mm(profile: Profile, account: Account, symbol: str, price: float) -> tuple[float, float]:
    """The account's equity and the cross MM with every position on ``symbol`` at ``price`` and the
    others at their marks (docs/domain.md §1.4, §7), from the margin functions, not the solver."""
    equity, mm = account.wallet_usd, 0.0
    for p in account.positions:
        if p.mode is not CROSS:
            continue
        c = profile.contract(p.symbol)
        px = price if p.symbol == symbol else account.mark_of(p)
        equity += float(contract_pnl(c, side=p.sign, qty=p.qty_base, entry=p.entry_price, exit_price=px))
        q = p.qty_base * c.size if c.is_inverse else p.qty_base
        x = 1.0 / px if c.is_inverse else px
        mm += float(maintenance_margin(qty=q, price=x, tiers=profile.effective_tiers(p.symbol)))
    return equity, mm


# ---------------------------------------------------------------------------------------------
# Golden


def test_the_issues_hedged_pair_shares_one_price_where_equity_equals_mm():
    # Issue 12: 15,000 USDT cross wallet, BTCUSDT long 4 @ 60,000 and short 2 @ 61,000, mark 58,000,
    # binance. Before, each leg held the other at its mark: 55,145.73 and 63,651.74, and at 63,651.74
    # the account still had 24,303 of equity against 1,810 of MM. Now (Binance's cross formula with
    # LONG and SHORT terms, net long 2, so below the mark; both legs in bracket 2, 0.5 %, cum 50):
    # LP = (15,000 + 50 + 50 - 4 x 60,000 + 2 x 61,000) / (4 x 0.005 + 2 x 0.005 - 4 + 2) = 52,233.50
    acct = Account("binance", 15_000.0, (Position("BTCUSDT", Side.LONG, 4, 60_000, 10, CROSS),
                                         Position("BTCUSDT", Side.SHORT, 2, 61_000, 10, CROSS)),
                   {"BTCUSDT": 58_000}, position_mode=PositionMode.HEDGE)
    long_q, short_q = quote_account(BINANCE, acct).positions
    assert long_q.liquidation_price == short_q.liquidation_price
    assert long_q.liquidation_price == pytest.approx(-102_900 / -1.97, rel=1e-12)  # 52,233.50
    assert (long_q.shares_lp_with, short_q.shares_lp_with) == ((1,), (0,))
    equity, mm = _equity_and_mm(BINANCE, acct, "BTCUSDT", long_q.liquidation_price)
    assert equity == pytest.approx(mm, rel=1e-12)
    # the shared bankruptcy price: 15,000 + 4 (P - 60,000) - 2 (P - 61,000) = 0 -> P = 51,500
    assert long_q.bankruptcy_price == short_q.bankruptcy_price == pytest.approx(51_500)
    assert "share one liquidation price" in long_q.explain["liquidation_price"]
    # and the account at that mark is exactly at the line: not liquidatable a hair above, liquidatable below
    for frac, liquidatable in ((1e-9, False), (-1e-9, True)):
        at = quote_account(BINANCE, acct.with_mark("BTCUSDT", long_q.liquidation_price * (1 + frac)))
        assert at.cross_liquidatable_now is liquidatable


def test_a_flat_pair_is_liquidated_only_where_mm_outgrows_the_wallet():
    # docs/domain.md §8 (lesson-hedge-cross.json): binance, 1 BTC long and 1 BTC short from 68,000 at
    # 50x, wallet 2,720. The legs' PnL cancels; MM grows with the price: (2,720 + 50 + 50) /
    # (0.005 + 0.005) = 282,000 (bracket 2 at that notional). Flat: no bankruptcy price.
    sc = load_scenario(scenarios_dir() / "lesson-hedge-cross.json")
    assert sc.account.position_mode is PositionMode.HEDGE  # an old file, read as hedge
    a, b = quote_account(BINANCE, sc.account).positions
    assert a.liquidation_price == b.liquidation_price == pytest.approx(282_000.0)
    assert math.isnan(a.bankruptcy_price) and math.isnan(b.bankruptcy_price)
    assert "fully hedged" in a.explain["bankruptcy_price"]


def test_binance_two_symbol_cross_example():
    # Binance USDⓈ-M liquidation FAQ's two-symbol example, numbers as in freqtrade's tests
    # (freqtrade/freqtrade tests/exchange/test_binance.py @ c9ae5e1e, "From calc example"):
    # WB 1,535,443.01; BTCUSDT long 109.488 @ 32,481.98 (mark 31,967.27, MMR 2.5 %, cum 16,300);
    # ETHUSDT long 3,683.979 @ 1,456.84 (mark 1,335.18, MMR 10 %, cum 135,365). Cross: ETH 1,153.26,
    # BTC 26,316.89; isolated on the whole WB: ETH 1,114.78, BTC 18,778.73.
    tables = {"BTCUSDT": TierTable.single(mmr=0.025, max_leverage=20, maintenance_amount=16_300),
              "ETHUSDT": TierTable.single(mmr=0.10, max_leverage=5, maintenance_amount=135_365)}
    prof = Profile(id="b", name="b", as_of="2021-01-01", source="FAQ", rules=BINANCE.rules,
                   contracts={s: Contract(s, t, tick_size=0.01) for s, t in tables.items()})
    btc = Position("BTCUSDT", Side.LONG, 109.488, 32_481.98, 10, CROSS)
    eth = Position("ETHUSDT", Side.LONG, 3_683.979, 1_456.84, 4, CROSS)
    marks = {"BTCUSDT": 31_967.27, "ETHUSDT": 1_335.18}
    b, e = quote_account(prof, Account("b", 1_535_443.01, (btc, eth), marks)).positions
    assert e.liquidation_price == pytest.approx(1_153.26, abs=0.005)
    assert b.liquidation_price == pytest.approx(26_316.89, abs=0.005)
    iso = quote_account(prof, Account("b", 0.0, (btc.with_(mode=MarginMode.ISOLATED, margin_usd=1_535_443.01),
                                                 eth.with_(mode=MarginMode.ISOLATED, margin_usd=1_535_443.01)),
                                      marks)).positions
    assert iso[1].liquidation_price == pytest.approx(1_114.78, abs=0.005)
    assert iso[0].liquidation_price == pytest.approx(18_778.73, abs=0.005)


def test_isolated_legs_stay_independent():
    acct = Account("binance", 0.0, (Position("BTCUSDT", Side.LONG, 1, 68_000, 50),
                                    Position("BTCUSDT", Side.SHORT, 1, 68_000, 50)),
                   position_mode=PositionMode.HEDGE)
    long_q, short_q = quote_account(BINANCE, acct).positions
    # each on its own 1,360: LP = (68,000 - 1,360 - 50) / 0.995 = 66,925.63 (lesson-hedge-isolated.json)
    assert long_q.liquidation_price == pytest.approx((68_000 - 1_360 - 50) / 0.995)
    assert long_q.shares_lp_with == () and short_q.shares_lp_with == ()
    assert short_q.liquidation_price == pytest.approx((68_000 + 1_360 + 50) / 1.005)


# ---------------------------------------------------------------------------------------------
# Modes


def test_one_way_refuses_a_second_position_naming_both():
    pair = (Position("BTCUSDT", Side.LONG, 1, 68_000, 10), Position("BTCUSDT", Side.SHORT, 1, 68_000, 10))
    with pytest.raises(InvalidInputError) as ei:
        quote_account(BINANCE, Account("binance", 1_000.0, pair))
    assert ei.value.field == "position_mode"
    assert "positions[0] (BTCUSDT long)" in ei.value.reason and "positions[1] (BTCUSDT short)" in ei.value.reason
    with pytest.raises(InvalidInputError) as ei:
        check_position_mode(Account("binance", 0.0, (pair[0], pair[0]), position_mode="hedge"))
    assert "both long" in ei.value.reason


def test_scenario_files_carry_the_mode_and_old_ones_are_read_without_loss():
    sc = load_scenario(scenarios_dir() / "lesson-hedge-isolated.json")
    assert sc.account.position_mode is PositionMode.HEDGE
    doc = scenario_to_dict(sc)
    assert doc["account"]["position_mode"] == "hedge"
    assert scenario_from_dict(doc).account == sc.account
    one = load_scenario(scenarios_dir() / "lesson-faq-crash.json")
    assert one.account.position_mode is PositionMode.ONE_WAY
    # two longs on one symbol fit neither mode: one message
    doc["account"]["positions"][1]["side"] = "long"
    del doc["account"]["position_mode"]
    with pytest.raises(InvalidInputError) as ei:
        scenario_from_dict(doc)
    assert ei.value.field == "account.position_mode" and "fit neither mode" in ei.value.reason
    doc["account"]["position_mode"] = "both"
    with pytest.raises(InvalidInputError) as ei:
        scenario_from_dict(doc)
    assert ei.value.field == "account.position_mode" and "'one_way' or 'hedge'" in ei.value.reason


def test_hedge_legs_in_cross_are_liquidated_together():
    # The issue's pair on a dip far below the shared price (52,233.50): one trigger for the scope,
    # and both legs closed at that tick.
    acct = Account("binance", 15_000.0, (Position("BTCUSDT", Side.LONG, 4, 60_000, 10, CROSS),
                                         Position("BTCUSDT", Side.SHORT, 2, 61_000, 10, CROSS)),
                   position_mode=PositionMode.HEDGE)
    res = simulate(BINANCE, acct, PricePath.from_mark([0, 1, 2], [58_000, 53_000, 50_000]))
    triggers = res.events_of(EventKind.LIQUIDATION_TRIGGERED)
    assert len(triggers) == 1 and triggers[0].position == "cross" and triggers[0].t == 2
    assert triggers[0].price == pytest.approx(-102_900 / -1.97)
    assert res.open_positions == () and abs(res.imbalance) < 1e-6


def _pair(wallet=15_000.0):
    return Account("binance", wallet, (Position("BTCUSDT", Side.LONG, 4, 60_000, 10, CROSS),
                                       Position("BTCUSDT", Side.SHORT, 2, 61_000, 10, CROSS)),
                   position_mode=PositionMode.HEDGE)


def test_a_partial_liquidation_of_a_hedged_pair_closes_the_net_and_never_turns_it_around():
    # The issue's pair on 58,000 -> 55,000 -> 52,000 -> 54,000 (t 0/60/120/180, dt 1). It triggers
    # at the shared price 52,233.50 (t = 116, mark 52,200). The step-down would bring the long
    # (4 x 52,200 = 208,800, bracket 2) under the 50,000 floor: 3.043 BTC, which used to leave the
    # account net short 1.043 and liquidated again on the way back up (t = 147). Now only the net
    # 2 BTC of the long go: -2 x 7,800 = -15,600, fee 2 x 52,200 x 0.3 % = 313.20, and the account
    # is compliant: equity -913.20 + 2 x (-7,800) + 2 x 8,800 = 1,086.80 > MM 2 x (522 - 50) = 944.
    t = list(range(181))
    path = PricePath.from_mark(t, [float(x) for x in np.interp(t, [0, 60, 120, 180], [58_000, 55_000, 52_000, 54_000])])
    res = simulate(BINANCE, _pair(), path)
    [trig] = res.events_of(EventKind.LIQUIDATION_TRIGGERED)
    assert trig.t == 116 and trig.price == pytest.approx(52_233.50)
    [part] = res.events_of(EventKind.PARTIAL_LIQUIDATION)
    assert part.position == "BTCUSDT#1 long" and part.qty == pytest.approx(2.0)
    assert part.amount == pytest.approx(-15_600.0) and part.detail["fee"] == pytest.approx(313.20)
    assert res.party("trader.wallet").end == pytest.approx(-913.20)
    # the wallet's debt is backed by the hedged pair's locked-in 2,000, shown at the end
    assert {o.label: o.qty for o in res.open_positions} == {"BTCUSDT#1 long": 2.0, "BTCUSDT#2 short": 2.0}
    upnl = math.fsum(o.unrealized_pnl for o in res.open_positions)
    assert upnl == pytest.approx(2 * (54_000 - 60_000) + 2 * (61_000 - 54_000))
    assert "cross equity = wallet -913.20 + uPnL 2,000.00 = 1,086.80" in res.summary()
    assert abs(res.imbalance) < 1e-6


def test_when_the_net_is_not_enough_the_hedged_part_is_closed_in_pairs():
    # Gap to 52,100. Net step: 2 long at 52,100, -15,800 and fee 312.60: wallet -1,112.60, the
    # pair's uPnL 2 x (-7,900) + 2 x 8,900 = 2,000, equity 887.40 < MM 2 x (0.5 % x 104,200 - 50) = 942.
    # Pair step: both legs to the 50,000 floor, 2 - 50,000 / 52,100 = 1.0403 -> 1.041 each (lot up):
    # -1.041 x 7,900 + 1.041 x 8,900 = +1,041, fees 2 x 1.041 x 52,100 x 0.3 % = 325.42; wallet
    # -397.02; the 0.959 pair's uPnL 959, equity 561.98 >= MM 2 x 0.4 % x 49,963.90 = 399.71.
    res = simulate(BINANCE, _pair(), PricePath.from_mark([0, 1], [58_000, 52_100]))
    parts = [(e.position, round(e.qty, 9)) for e in res.events_of(EventKind.PARTIAL_LIQUIDATION)]
    assert parts == [("BTCUSDT#1 long", 2.0), ("BTCUSDT#1 long", 1.041), ("BTCUSDT#2 short", 1.041)]
    assert res.party("trader.wallet").end == pytest.approx(-397.0166)
    assert [round(o.qty, 9) for o in res.open_positions] == [0.959, 0.959]
    assert not res.events_of(EventKind.LIQUIDATION_FILL) and abs(res.imbalance) < 1e-6


# ---------------------------------------------------------------------------------------------
# Properties


@st.composite
def hedged_accounts(draw):
    """A long and a short on BTC (linear binance or inverse binance-coinm), cross, maybe a third
    cross position on ETH held at its mark, a wallet and a mark."""
    pid = draw(st.sampled_from(["binance", "binance-coinm"]))
    prof = PS.get(pid)
    btc, eth = ("BTCUSDT", "ETHUSDT") if pid == "binance" else ("BTCUSD_PERP", "ETHUSD_PERP")
    c = prof.contract(btc)
    mark = draw(st.floats(20_000, 100_000))
    positions = []
    for side in (Side.LONG, Side.SHORT):
        entry = mark * draw(st.floats(0.8, 1.25))
        btc_qty = draw(st.floats(0.01, 30.0))
        qty = btc_qty * entry / c.size if c.is_inverse else btc_qty
        positions.append(Position(btc, side, qty, entry, draw(st.floats(1.0, 20.0)), CROSS))
    marks = {btc: mark}
    cash = 1.0 / mark if c.is_inverse else 1.0
    if pid == "binance" and draw(st.booleans()):
        e = draw(st.floats(1_000, 5_000))
        positions.append(Position(eth, draw(st.sampled_from([Side.LONG, Side.SHORT])), draw(st.floats(0.1, 100.0)),
                                  e, draw(st.floats(1.0, 20.0)), CROSS))
        marks[eth] = e * draw(st.floats(0.9, 1.1))
    wallet = draw(st.floats(1_000.0, 2_000_000.0)) * cash
    return prof, Account(pid, wallet, tuple(positions), marks, position_mode=PositionMode.HEDGE), btc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hedged_accounts())
def test_the_joint_price_is_shared_and_equity_equals_mm_there(args):
    prof, acct, sym = args
    try:
        aq = quote_account(prof, acct)
    except InvalidInputError:
        assume(False)
        return
    a, b = aq.positions[0], aq.positions[1]
    lp = a.liquidation_price
    assert (math.isnan(lp) and math.isnan(b.liquidation_price)) or lp == b.liquidation_price
    assert a.bankruptcy_price == b.bankruptcy_price or (math.isnan(a.bankruptcy_price)
                                                       and math.isnan(b.bankruptcy_price))
    if math.isnan(lp):
        return
    equity, mm = _equity_and_mm(prof, acct, sym, lp)
    assert equity == pytest.approx(mm, rel=1e-9, abs=1e-9 * max(acct.wallet_usd, 1e-9))
    # on the side the net position loses, for a healthy account (an inverse long loses as P falls)
    if not aq.cross_liquidatable_now:
        c = prof.contract(sym)
        net = math.fsum(p.sign * p.qty_base for p in acct.positions[:2])  # base units, or contracts
        # (a flat book's price is where MM outgrows the wallet: above for linear, below for inverse)
        mark = acct.mark_of(acct.positions[0])
        below = net > 0 if not c.is_inverse else net >= 0
        tol = 1e-9 * mark  # an account exactly at the line has its price at the mark
        assert (lp < mark + tol) if below else (lp > mark - tol), (net, lp, mark)


@settings(max_examples=300, deadline=None)
@given(st.floats(0.01, 50.0), st.floats(10_000, 100_000), st.floats(0.0, 1.0), st.sampled_from([1.0, -1.0]),
       st.booleans())
def test_one_leg_solved_jointly_is_the_single_leg_price(qty, entry, margin_frac, side, entry_basis):
    t = BINANCE.contract("BTCUSDT").tiers
    wallet = qty * entry * margin_frac
    basis = "entry" if entry_basis else "mark"
    single = liquidation_price(side=side, qty=qty, entry=entry, wallet=wallet, tiers=t, mm_basis=basis)
    joint = joint_liquidation_price(sides=[side], qtys=[qty], entries=[entry], wallet=wallet, tiers=t, mm_basis=basis)
    assert (math.isnan(single) and math.isnan(joint.liquidation_price)) or joint.liquidation_price == pytest.approx(
        single, rel=1e-9)


def test_joint_prices_follow_the_rule_knobs():
    # entry basis (MM fixed) with the tier at entry: equity - MM is linear and its root is the one price
    flat = dataclasses.replace(BINANCE, rules=Rules(mm_basis="entry", tier_at_liquidation=False))
    acct = Account("binance", 15_000.0, (Position("BTCUSDT", Side.LONG, 4, 60_000, 10, CROSS),
                                         Position("BTCUSDT", Side.SHORT, 2, 61_000, 10, CROSS)),
                   {"BTCUSDT": 58_000}, position_mode=PositionMode.HEDGE)
    a, b = quote_account(flat, acct).positions
    # MM on entry, bracket 2 both: 4 x 60,000 x 0.5 % - 50 + 2 x 61,000 x 0.5 % - 50 = 1,710;
    # 15,000 + 4 (P - 60,000) - 2 (P - 61,000) = 1,710 -> P = (240,000 - 122,000 - 15,000 + 1,710) / 2
    assert a.liquidation_price == b.liquidation_price == pytest.approx((118_000 - 15_000 + 1_710) / 2)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hedged_accounts(), st.floats(0.005, 0.3), st.floats(0.0, 0.05), st.integers(2, 40), st.floats(-0.1, 0.1))
def test_a_hedged_book_is_never_turned_around_and_never_ends_in_debt(args, thin, past, n, back):
    # A healthy hedged book on a wallet of a fraction ``thin`` of its gross notional, walked in
    # ``n`` steps to its shared liquidation price and ``past`` beyond it, then ``back`` (so a
    # step-down can leave it alive), linear or inverse: every partial liquidation keeps the sign of
    # the net position on the hedged symbol (or keeps it flat); money is conserved; the trader ends
    # with a cross equity (wallet + uPnL at the last mark) of at least zero -- the fund paid any gap.
    prof, acct, sym = args
    c = prof.contract(sym)
    mark = acct.mark_of(acct.positions[0])
    gross = math.fsum(float(settle_notional(c, p.qty_base, mark)) for p in acct.positions if p.symbol == sym)
    acct = dataclasses.replace(acct, wallet_usd=thin * gross)
    try:
        aq = quote_account(prof, acct)
    except InvalidInputError:
        assume(False)
        return
    lp = aq.positions[0].liquidation_price
    assume(not aq.cross_liquidatable_now and math.isfinite(lp) and 0.2 * mark < lp < 5 * mark)
    beyond = lp + (lp - mark) / abs(lp - mark) * past * lp
    marks = [float(x) for x in np.linspace(mark, beyond, n)] + [beyond * (1 + back)]
    res = simulate(prof, acct, PricePath.from_mark(list(range(len(marks))), marks), symbol=sym)
    held = {f"{p.symbol}#{i + 1} {p.side.value}": p.sign * p.qty_base
            for i, p in enumerate(acct.positions) if p.symbol == sym}
    lot = c.lot_size
    net0 = sum(held.values())
    sign0 = 0.0 if abs(net0) < lot else math.copysign(1.0, net0)
    for t in sorted({e.t for e in res.events_of(EventKind.PARTIAL_LIQUIDATION)}):
        for e in res.events:  # every close up to the end of that tick (a pair is two events)
            if e.t == t and e.position in held and e.kind in (EventKind.PARTIAL_LIQUIDATION,
                                                                EventKind.LIQUIDATION_FILL, EventKind.ADL):
                held[e.position] -= math.copysign(e.qty, held[e.position])
        net = sum(held.values())
        assert net * sign0 >= -lot * 1e-6 if sign0 else abs(net) < lot, (t, held)
    assert abs(res.imbalance) < 1e-6 * (1.0 + acct.wallet_usd)
    wallet = res.party("trader.wallet").end
    equity = wallet + math.fsum(o.unrealized_pnl for o in res.open_positions if o.party == "trader.wallet")
    assert equity >= -1e-6 * (1.0 + acct.wallet_usd), (wallet, res.open_positions)

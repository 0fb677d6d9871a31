"""Funding: the payment, where it is booked, the simulator's transfers, the "hold for N days" what-if.

Golden values are derived in the comments from docs/domain.md §9 (no exchange publishes a worked
funding-to-liquidation example; Binance's user post is quoted there).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from core import whatif
from core.errors import InvalidInputError
from core.funding import (
    available_balance,
    default_funding_rate,
    funding_path,
    funding_payment,
    funding_split,
    funding_times,
    intervals_to_liquidation,
)
from core.ledger import replay
from core.model import Account, MarginMode, Position, PositionMode, Side
from core.paths import exchanges_dir
from core.prices import PricePath
from core.profiles import FundingBooking, load_profiles
from core.quote import quote_account
from core.scenario import SCHEMA_VERSION, scenario_from_dict, scenario_to_dict
from core.simspec import FundingSpec, funding_from_dict, simulation_from_dict, simulation_to_dict
from core.simulate import simulate

PROFILES = load_profiles([exchanges_dir()])
BINANCE, BYBIT, CLASSIC, HYPER = (PROFILES.get(p) for p in ("binance", "bybit", "classic", "hyperliquid"))
H8 = 8 * 3_600.0


def flat(price: float, *, hours: float, dt: float = 3_600.0) -> PricePath:
    t = np.arange(0.0, hours * 3_600.0 + dt / 2, dt)
    return PricePath.from_mark(t, np.full(t.size, price))


# ------------------------------------------------------------------------------------ the rules


def test_payment_sign_and_default_rates():
    # docs/domain.md §9.1: 5 BTC at 68,000, 0.01 %: the long pays 34, the short receives 34
    assert funding_payment(side=1, value=340_000, rate=0.0001) == pytest.approx(34.0)
    assert funding_payment(side=-1, value=340_000, rate=0.0001) == pytest.approx(-34.0)
    assert funding_payment(side=1, value=340_000, rate=-0.0001) == pytest.approx(-34.0)  # negative rate: longs receive
    # the interest component: 0.01 % per 8 h; Hyperliquid pays it hourly as 0.00125 %
    assert default_funding_rate(BINANCE.rules.funding_interval_h) == pytest.approx(0.0001)
    assert default_funding_rate(HYPER.rules.funding_interval_h) == pytest.approx(0.0000125)


def test_profiles_state_their_funding_rules():
    # docs/domain.md §9.2 table
    assert (BINANCE.rules.funding_interval_h, BINANCE.rules.funding_booking) == (8.0, FundingBooking.ISOLATED_MARGIN)
    assert (BYBIT.rules.funding_interval_h, BYBIT.rules.funding_booking) == (8.0, FundingBooking.AVAILABLE_FIRST)
    assert (HYPER.rules.funding_interval_h, HYPER.rules.funding_booking) == (1.0, FundingBooking.ISOLATED_MARGIN)
    assert [PROFILES.get(p).rules.funding_booking for p in ("binance-coinm", "bitmex", "bybit-inverse")] == [
        FundingBooking.ISOLATED_MARGIN, FundingBooking.ISOLATED_MARGIN, FundingBooking.AVAILABLE_FIRST]
    assert PROFILES.get("bitmex").rules.maker_fee == -0.00025  # a rebate (BitMEX fees page, 2019)
    # docs/domain.md §9.4 table: maker / taker
    assert [(p.rules.maker_fee, p.rules.taker_fee) for p in (BINANCE, BYBIT, HYPER)] == [
        (0.0002, 0.0005), (0.0002, 0.00055), (0.00015, 0.00045)]


@pytest.mark.parametrize(("payment", "cross", "booking", "available", "expected"), [
    (34.0, True, FundingBooking.AVAILABLE_FIRST, 0.0, (34.0, 0.0)),        # cross: always the wallet
    (34.0, False, FundingBooking.ISOLATED_MARGIN, 1e6, (0.0, 34.0)),       # Binance: the margin
    (34.0, False, FundingBooking.AVAILABLE_FIRST, 50.0, (34.0, 0.0)),      # Bybit: the available balance
    (34.0, False, FundingBooking.AVAILABLE_FIRST, 20.0, (20.0, 14.0)),     # ... until it runs out
    (-34.0, False, FundingBooking.AVAILABLE_FIRST, 0.0, (-34.0, 0.0)),     # Bybit: received -> available
    (-34.0, False, FundingBooking.ISOLATED_MARGIN, 0.0, (0.0, -34.0)),     # Binance: received -> the margin
])
def test_split(payment, cross, booking, available, expected):
    assert funding_split(payment, cross=cross, booking=booking, available=available) == expected


def test_funding_times_are_multiples_of_the_interval():
    assert funding_times(0.0, 3 * H8, H8).tolist() == [H8, 2 * H8, 3 * H8]
    assert funding_times(100.0, H8 - 1, H8).tolist() == []
    assert funding_times(-H8 / 2, H8 / 2, H8).tolist() == [0.0]


def test_funding_path_books_like_the_rule_interval_by_interval():
    # a Bybit hedge: isolated long pays 30, cross short receives 10, isolated short receives 5;
    # the loop must equal booking every payment by funding_split in index order
    payments, cross = [30.0, -10.0, -5.0], [False, True, False]
    margins, wallet, commitment = [500.0, 0.0, 300.0], 45.0, 20.0
    path = funding_path(payments=payments, cross=cross, booking=FundingBooking.AVAILABLE_FIRST, wallet=wallet,
                        margins=margins, commitment=commitment, n=12)
    w, m = wallet, list(margins)
    for k in range(1, 13):
        for i, c in enumerate(payments):
            dw, dm = funding_split(c, cross=cross[i], booking=FundingBooking.AVAILABLE_FIRST,
                                   available=available_balance(w, commitment))
            w -= dw
            m[i] -= dm
        assert path.wallet[k] == pytest.approx(w)
        assert path.margin[k, [0, 2]].tolist() == pytest.approx([m[0], m[2]])
    assert path.paid[12].tolist() == pytest.approx([360.0, -120.0, -60.0])


def test_funding_path_fast_forward_matches_the_loop():
    # once the available balance is empty and the wallet does not grow, the path extrapolates
    kw = dict(payments=[34.0, 3.0], cross=[False, True], booking=FundingBooking.AVAILABLE_FIRST, wallet=100.0,
              margins=[1_000.0, 0.0], commitment=10.0)
    long_path = funding_path(**kw, n=500)
    w, m = 100.0, 1_000.0
    for k in range(1, 501):
        dw, dm = funding_split(34.0, cross=False, booking=FundingBooking.AVAILABLE_FIRST,
                               available=available_balance(w, 10.0))
        w, m = w - dw - 3.0, m - dm
        assert long_path.wallet[k] == pytest.approx(w) and long_path.margin[k, 0] == pytest.approx(m)


# ------------------------------------------------------------------------------------ the simulator


def test_flat_path_isolated_margin_drops_by_the_payments_and_the_lp_follows_the_closed_form():
    # Binance BTCUSDT, 0.5 BTC long at 60,000, 20x: margin 1,500, tier 1 (MMR 0.4 %, no amount),
    # rate 0.11 % per 8 h: 30,000 x 0.0011 = 33 a payment, from the isolated margin (§9.2)
    pos = Position("BTCUSDT", Side.LONG, 0.5, 60_000, 20)
    acct = Account("binance", positions=(pos,))
    res = simulate(BINANCE, acct, flat(60_000, hours=10 * 8), funding=FundingSpec(rate=0.0011))
    pays = res.events_of("funding_payment")
    assert len(pays) == 10 and [e.t for e in pays] == [H8 * k for k in range(1, 11)]
    assert all(e.amount == pytest.approx(33.0) for e in pays)
    # after k payments the margin dropped by exactly their sum; the funding party holds it
    for k, e in enumerate(pays, start=1):
        assert e.detail["balance_after"] == pytest.approx(1_500 - 33 * k, abs=1e-9)
        assert e.detail["from_margin"] == pytest.approx(33.0) and e.detail["from_wallet"] == 0.0
    assert res.party("funding").end == pytest.approx(330.0)
    assert res.party("trader.isolated.BTCUSDT").end == pytest.approx(1_170.0)
    assert abs(res.imbalance) < 1e-9 and not res.events_of("liquidation_triggered")
    # the LP of the margin left moved by the closed form c k / (q (1 - MMR)) (docs/domain.md §9.3)
    lp0 = quote_account(BINANCE, acct).positions[0].liquidation_price
    lp10 = quote_account(BINANCE, Account("binance", positions=(pos.with_(margin_usd=1_170.0),))).positions[0]
    assert lp0 == pytest.approx((30_000 - 1_500) / (0.5 * 0.996))
    assert lp10.liquidation_price - lp0 == pytest.approx(330.0 / (0.5 * (1 - 0.004)), rel=1e-12)


def test_flat_path_funding_alone_liquidates_at_the_closed_form_payment():
    # the same long: equity 1,500 - 33 n < MM 120 first at n = floor(1,380 / 33) + 1 = 42
    assert intervals_to_liquidation(equity=1_500, maintenance=120, payment=33) == 42
    acct = Account("binance", positions=(Position("BTCUSDT", Side.LONG, 0.5, 60_000, 20),))
    res = simulate(BINANCE, acct, flat(60_000, hours=50 * 8), funding=FundingSpec(rate=0.0011))
    (trig,) = res.events_of("liquidation_triggered")
    assert trig.t == 42 * H8
    assert len(res.events_of("funding_payment")) == 42  # none after the position is gone
    assert res.party("funding").end == pytest.approx(42 * 33)
    assert abs(res.imbalance) < 1e-9


def test_bybit_takes_funding_from_the_available_balance_first():
    # Bybit isolated long, 100 USDT in the wallet (nothing cross: all of it available): the first
    # payments come out of the wallet and the margin (and the LP) stay put (docs/domain.md §9.2)
    pos = Position("BTCUSDT", Side.LONG, 0.5, 60_000, 20)
    acct = Account("bybit", wallet_usd=100.0, positions=(pos,))
    res = simulate(BYBIT, acct, flat(60_000, hours=5 * 8), funding=FundingSpec(rate=0.0011))
    pays = res.events_of("funding_payment")
    assert [round(e.detail["from_wallet"], 9) for e in pays] == [33.0, 33.0, 33.0, 1.0, 0.0]
    assert [round(e.detail["from_margin"], 9) for e in pays] == [0.0, 0.0, 0.0, 32.0, 33.0]
    margin0 = res.party("trader.isolated.BTCUSDT").start
    assert res.party("trader.isolated.BTCUSDT").end == pytest.approx(margin0 - 65.0)
    assert res.party("trader.wallet").end == pytest.approx(0.0)


def test_cross_funding_moves_the_wallet_and_a_short_receives():
    acct = Account("classic", wallet_usd=5_000.0,
                   positions=(Position("BTCUSDT", Side.SHORT, 1, 60_000, 10, mode=MarginMode.CROSS),))
    res = simulate(CLASSIC, acct, flat(60_000, hours=24), funding=FundingSpec(rate=0.0001))
    # a short receives 6 per payment at a positive rate, into the cross wallet
    assert [e.amount for e in res.events_of("funding_payment")] == pytest.approx([-6.0, -6.0, -6.0])
    assert res.party("trader.wallet").end == pytest.approx(5_018.0)
    assert res.party("funding").end == pytest.approx(-18.0)


def test_hedge_legs_each_pay_their_own_funding():
    # a long and a short of 1 BTC on one symbol, both isolated: the long pays 6, the short gets 6
    acct = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 1, 60_000, 10),
                                         Position("BTCUSDT", Side.SHORT, 1, 60_000, 10)),
                   position_mode=PositionMode.HEDGE)
    res = simulate(CLASSIC, acct, flat(60_000, hours=8), funding=FundingSpec(rate=0.0001))
    by = {e.position: e.amount for e in res.events_of("funding_payment")}
    assert by == pytest.approx({"BTCUSDT#1 long": 6.0, "BTCUSDT#2 short": -6.0})
    assert res.party("trader.isolated.BTCUSDT#1").end == pytest.approx(5_994.0)
    assert res.party("trader.isolated.BTCUSDT#2").end == pytest.approx(6_006.0)
    assert res.party("funding").end == pytest.approx(0.0)


def test_a_payment_between_ticks_is_valued_at_the_earlier_tick():
    # ticks every 5,000 s; the 8 h payment at 28,800 s falls between 25,000 and 30,000
    t = np.arange(0.0, 30_001.0, 5_000.0)
    mark = np.linspace(60_000, 66_000, t.size)
    acct = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 1, 60_000, 10),))
    res = simulate(CLASSIC, acct, PricePath.from_mark(t, mark), funding=FundingSpec(rate=0.0001))
    (e,) = res.events_of("funding_payment")
    assert e.t == H8 and e.price == 65_000.0 and e.amount == pytest.approx(6.5)


def test_stepped_rates_and_interval_override():
    spec = FundingSpec(times=(0.0, 4 * 3_600.0), rates=(0.0001, -0.0002), interval_h=2.0)
    acct = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 1, 50_000, 10),))
    res = simulate(CLASSIC, acct, flat(50_000, hours=8, dt=600.0), funding=spec)
    # payments at 2, 4, 6 and 8 h: 5, then the new rate from 4 h on: -10, -10, -10
    assert [e.amount for e in res.events_of("funding_payment")] == pytest.approx([5.0, -10.0, -10.0, -10.0])
    rebuilt = replay({p.name: p.start for p in res.parties}, res.transfers)
    assert all(rebuilt[p.name] == pytest.approx(p.end) for p in res.parties)


def test_no_funding_section_no_funding_party():
    acct = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 1, 50_000, 10),))
    res = simulate(CLASSIC, acct, flat(50_000, hours=24))
    assert not res.events_of("funding_payment") and all(p.name != "funding" for p in res.parties)


# ------------------------------------------------------------------------------------ the what-if


def test_hold_faq_golden():
    # docs/domain.md §9.3: the FAQ long (classic, entry basis) pays 34 a payment; 3 days = 9 payments,
    # 306 paid, LP 61,880 + 306 / 5; funding alone: floor(30,600 / 34) + 1 = 901 payments, day 300.33
    acct = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 5, 68_000, 10),))
    res = whatif.hold_with_funding(CLASSIC, acct, 0, 3, rate=0.0001)
    f = res.funding
    assert (f.intervals, f.paid, f.per_interval) == (9, pytest.approx(306.0), pytest.approx(34.0))
    assert res.after.liquidation_price == pytest.approx(61_880 + 306 / 5)
    assert res.after.margin == pytest.approx(34_000 - 306)
    assert res.after.position.funding_paid == pytest.approx(306.0)
    assert f.liquidation_intervals == intervals_to_liquidation(equity=34_000, maintenance=3_400, payment=34) == 901
    assert f.liquidation_days == pytest.approx(901 / 3)
    assert not f.liquidated_within and res.as_dict()["funding"]["liquidation_days"] == pytest.approx(901 / 3)


CASES = [
    ("classic", Account("classic", positions=(Position("BTCUSDT", Side.LONG, 5, 68_000, 10),)), 0.002),
    ("binance", Account("binance", positions=(Position("BTCUSDT", Side.SHORT, 0.5, 60_000, 25),)), -0.0015),
    ("bybit", Account("bybit", wallet_usd=250.0, positions=(Position("BTCUSDT", Side.LONG, 0.5, 60_000, 25),)), 0.0015),
    ("bybit", Account("bybit", wallet_usd=2_000.0,
                      positions=(Position("BTCUSDT", Side.LONG, 0.5, 60_000, 25, mode=MarginMode.CROSS),)), 0.0015),
    ("hyperliquid", Account("hyperliquid", positions=(Position("BTC", Side.LONG, 0.5, 60_000, 20),)), 0.0004),
    ("binance", Account("binance", wallet_usd=3_000.0, positions=(
        Position("BTCUSDT", Side.LONG, 1.0, 60_000, 20, mode=MarginMode.CROSS),
        Position("BTCUSDT", Side.SHORT, 0.4, 60_000, 20, mode=MarginMode.CROSS)),
        position_mode=PositionMode.HEDGE), 0.002),
]


@pytest.mark.parametrize(("pid", "acct", "rate"), CASES, ids=lambda x: getattr(x, "profile_id", str(x)))
def test_what_if_funding_alone_day_equals_the_simulators_liquidation_time(pid, acct, rate):
    prof = PROFILES.get(pid)
    res = whatif.hold_with_funding(prof, acct, 0, 1, rate=rate)
    n = res.funding.liquidation_intervals
    assert n is not None and n > 3
    hours = n * prof.rules.funding_interval_h
    sim = simulate(prof, acct, flat(acct.positions[0].entry_price, hours=hours + 5, dt=1_800.0),
                   funding=FundingSpec(rate=rate))
    trig = sim.events_of("liquidation_triggered")[0]
    assert trig.t == pytest.approx(hours * 3_600.0)
    assert res.funding.liquidation_days * 86_400.0 == pytest.approx(trig.t)
    assert abs(sim.imbalance) < 1e-9


def test_hold_refuses_bad_input():
    acct = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 5, 68_000, 10),))
    with pytest.raises(InvalidInputError) as e:
        whatif.hold_with_funding(CLASSIC, acct, 0, 3, rate=0.5)
    assert e.value.field == "rate" and "0.05" in e.value.reason
    with pytest.raises(InvalidInputError) as e:
        whatif.hold_with_funding(CLASSIC, acct, 0, -1)
    assert e.value.field == "days"


def test_a_receiving_position_is_never_liquidated_by_funding():
    acct = Account("classic", positions=(Position("BTCUSDT", Side.SHORT, 5, 68_000, 10),))
    res = whatif.hold_with_funding(CLASSIC, acct, 0, 30, rate=0.0001)
    assert res.funding.liquidation_intervals is None and math.isnan(res.funding.liquidation_days)
    assert res.funding.paid == pytest.approx(-90 * 34.0)
    assert res.after.liquidation_price > res.before.liquidation_price  # the margin grew: the LP moved away


# ------------------------------------------------------------------------------------ the files


def test_simulation_funding_round_trips_and_names_its_errors():
    d = {"path": {"kind": "gap", "s0": 1, "s1": 1, "t_gap": 1, "dt": 1, "n": 2},
         "funding": {"series": {"t": [0, 100], "rate": [0.0001, 0.0003]}, "interval_h": 4}}
    spec = simulation_from_dict(d)
    assert spec.funding == FundingSpec(times=(0.0, 100.0), rates=(0.0001, 0.0003), interval_h=4.0)
    assert simulation_from_dict(simulation_to_dict(spec)) == spec
    for bad, field in [({"rate": 0.1}, "simulation.funding.rate"), ({}, "simulation.funding"),
                       ({"rate": 0.0, "series": {}}, "simulation.funding"),
                       ({"rate": 0.0, "interval_h": 0}, "simulation.funding.interval_h"),
                       ({"series": {"t": [0, 0], "rate": [0, 0]}}, "simulation.funding.series.t[1]"),
                       ({"series": {"t": [0], "rate": [0, 0]}}, "simulation.funding.series.rate"),
                       ({"rate": 0.0, "when": 1}, "simulation.funding.when")]:
        with pytest.raises(InvalidInputError) as e:
            funding_from_dict(bad)
        assert e.value.field == field


def test_version_1_files_read_unchanged_and_fees_round_trip():
    doc = {"schema_version": 1, "exchange": "classic",
           "account": {"positions": [{"symbol": "BTCUSDT", "side": "long", "qty": 1, "entry": 60_000,
                                      "leverage": 10}]}}
    sc = scenario_from_dict(doc)
    assert sc.account.fees.maker is None and sc.account.positions[0].funding_paid == 0.0
    out = scenario_to_dict(sc)
    assert out["schema_version"] == SCHEMA_VERSION == 2 and "fees" not in out["account"]
    doc2 = {**doc, "schema_version": 2}
    doc2["account"] = {**doc["account"], "fees": {"taker": 0.0004, "open": "maker"},
                       "positions": [{**doc["account"]["positions"][0], "funding_paid": -12.5}]}
    sc2 = scenario_from_dict(doc2)
    assert sc2.account.fees.taker == 0.0004 and sc2.account.fees.open.value == "maker"
    assert sc2.account.positions[0].funding_paid == -12.5
    assert scenario_from_dict(scenario_to_dict(sc2)) == sc2
    with pytest.raises(InvalidInputError) as e:
        scenario_from_dict({**doc2, "account": {**doc2["account"], "fees": {"taker": 1}}})
    assert e.value.field == "account.fees.taker"


@pytest.mark.parametrize(("key", "value", "words"), [
    ("funding_booking", "wallet", "'isolated_margin', 'available_first'"),
    ("funding_interval_h", 0, "(0, 24]"),
    ("funding_interval_h", 25, "(0, 24]"),
    ("maker_fee", -0.02, "[-0.01, 0.1]"),
])
def test_profile_funding_keys_are_checked(key, value, words):
    from core.errors import ProfileError
    from core.profiles import parse_profile
    data = {"schema_version": 1, "id": "x", "as_of": "2025-01-01", "source": "s", "rules": {key: value},
            "contracts": {"BTCUSDT": {"tiers": [{"floor": 0, "cap": 1e6, "max_leverage": 100, "mmr": 0.005}]}}}
    with pytest.raises(ProfileError) as e:
        parse_profile(data)
    assert f"rules.{key}" in str(e.value) and words in str(e.value)


def test_an_inverse_position_pays_funding_in_coin():
    # research note C12's construction from Binance's formula (docs/domain.md §9.6): 100 BTCUSD_PERP
    # (100 USD each) long at a mark of 50,000, rate 0.01 %: value 100 x 100 / 50,000 = 0.2 BTC,
    # funding 0.00002 BTC a payment, out of the isolated margin (in BTC)
    coinm = PROFILES.get("binance-coinm")
    acct = Account("binance-coinm", positions=(Position("BTCUSD_PERP", Side.LONG, 100, 50_000, 10),))
    res = simulate(coinm, acct, flat(50_000, hours=24), funding=FundingSpec(rate=0.0001))
    pays = res.events_of("funding_payment")
    assert [e.amount for e in pays] == pytest.approx([0.00002] * 3, abs=1e-15)
    margin = res.party("trader.isolated.BTCUSD_PERP")
    assert margin.start - margin.end == pytest.approx(0.00006, abs=1e-15)
    assert res.party("funding").end == pytest.approx(0.00006, abs=1e-15) and abs(res.imbalance) < 1e-15

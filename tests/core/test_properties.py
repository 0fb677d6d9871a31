"""Invariants of the liquidation engine, for every shipped profile, under np.errstate(all="raise")."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.liquidation import liquidation_price
from core.margin import maintenance_margin
from core.model import Account, MarginMode, Position
from core.profiles import FeeModel, MMBasis, Profile
from core.quote import PositionQuote, quote_account, quote_position
from tests.core.strategies import PROFILES, cross_accounts, finite, isolated_cases

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def frame(prof: Profile, p: Position) -> tuple[float, float, bool]:
    """(side, qty, inverse) of ``p`` in its linear frame, written out from docs/domain.md §7: an
    inverse position of C contracts of size S is a linear one of C*S on the other side at 1/P."""
    c = prof.contract(p.symbol)
    if c.is_inverse:
        return -p.sign, p.qty_base * c.size, True
    return p.sign, p.qty_base, False


def mm_at(prof: Profile, p: Position, price: float, q: PositionQuote) -> float:
    """Maintenance margin at ``price`` written out from docs/domain.md §1 and §7, independent of the solver."""
    tiers = prof.effective_tiers(p.symbol)
    r = prof.rules
    s, qty, inverse = frame(prof, p)
    x, xe = (1.0 / price, 1.0 / p.entry_price) if inverse else (price, p.entry_price)
    basis_px = xe if r.mm_basis is MMBasis.ENTRY else x
    tier_px = x if r.tier_at_liquidation else xe
    k = int(tiers.index(qty * tier_px))
    mm = tiers.mmr[k] * qty * basis_px - tiers.cum[k]
    if r.fee_model is FeeModel.CLOSE_FEE:
        # fee to close at the bankruptcy price, which leaves room for that fee
        f, m = r.taker_fee, q.collateral
        bp = (qty * xe - s * m) / (qty * (1 - s * f))
        mm += f * qty * bp
    return float(mm)


def pnl_at(prof: Profile, p: Position, price: float) -> float:
    """PnL at ``price`` in the settle asset: s*q*(P - EP), or s*C*S*(1/EP - 1/P) (inverse)."""
    c = prof.contract(p.symbol)
    if c.is_inverse:
        return p.sign * p.qty_base * c.size * (1.0 / p.entry_price - 1.0 / price)
    return p.sign * p.qty_base * (price - p.entry_price)


def may_lack_lp(prof: Profile, p: Position) -> bool:
    """Only a position that gains as the price rises in its frame (a linear long, an inverse short)
    can be backed beyond any liquidation (docs/domain.md §1.6, §7)."""
    return frame(prof, p)[0] > 0


@SETTINGS
@given(isolated_cases())
def test_equity_equals_mm_at_liquidation_price(case):
    prof, p = case.profile, case.position
    with np.errstate(all="raise"):
        q = quote_position(prof, p)
    lp = q.liquidation_price
    if math.isnan(lp):
        assert may_lack_lp(prof, p)  # only a linear long or an inverse short can be beyond liquidation
        return
    equity = q.margin + pnl_at(prof, p, lp)
    assert equity == pytest.approx(mm_at(prof, p, lp, q), rel=1e-9, abs=1e-9 * q.entry_notional)


@SETTINGS
@given(isolated_cases())
def test_lp_on_the_losing_side_of_entry_and_bp_beyond(case):
    prof, p = case.profile, case.position
    with np.errstate(all="raise"):
        q = quote_position(prof, p)
    lp, bp = q.liquidation_price, q.bankruptcy_price
    assert not math.isnan(lp) or may_lack_lp(prof, p)
    if p.sign > 0:
        assert math.isnan(lp) or lp < p.entry_price
        assert math.isnan(bp) or math.isnan(lp) or bp < lp
    else:
        assert math.isnan(lp) or lp > p.entry_price
        assert math.isnan(lp) or math.isnan(bp) or bp > lp
    assert not q.liquidatable_now  # margin >= IM > MM at the entry mark


@SETTINGS
@given(isolated_cases(), finite(1e-6, 5.0))
def test_adding_margin_moves_lp_away(case, frac):
    prof, p = case.profile, case.position
    with np.errstate(all="raise"):
        q0 = quote_position(prof, p)
        lp0 = q0.liquidation_price
        lp1 = quote_position(prof, p.with_(margin_usd=p.margin_usd + frac * q0.entry_notional)).liquidation_price
    if math.isnan(lp0):
        assert math.isnan(lp1)  # backed beyond liquidation, and more so with more margin
    elif p.sign > 0:
        assert math.isnan(lp1) or lp1 < lp0
    else:
        assert (math.isnan(lp1) and may_lack_lp(prof, p)) or lp1 > lp0


@SETTINGS
@given(isolated_cases(extra_margin=False), finite(0.0, 1.0))
def test_distance_to_liquidation_shrinks_as_leverage_rises(case, t):
    prof, p = case.profile, case.position
    if p.leverage <= 1.0:
        return
    lower = 1.0 + t * (p.leverage - 1.0)  # a leverage between 1x and the drawn one
    with np.errstate(all="raise"):
        q_hi = quote_position(prof, p)
        q_lo = quote_position(prof, p.with_(leverage=lower))
    d_hi, d_lo = q_hi.distance_to_liquidation, q_lo.distance_to_liquidation
    if math.isnan(d_hi):
        assert math.isnan(d_lo)  # none at the higher leverage -> none at the lower one
        return
    assert math.isnan(d_lo) or d_lo >= d_hi * (1 - 1e-12)
    assert d_hi > 0


@settings(max_examples=60, deadline=None)
@given(st.lists(isolated_cases(profile_id="binance"), min_size=1, max_size=8))
def test_vectorised_equals_scalar(cases):
    prof = PROFILES.get("binance")
    # one symbol's table for the whole array
    cases = [c for c in cases if c.position.symbol == "BTCUSDT"] or cases[:1]
    tiers = prof.contract(cases[0].position.symbol).tiers
    side = np.array([c.position.sign for c in cases], dtype=float)
    qty = np.array([c.position.qty_base for c in cases])
    entry = np.array([c.position.entry_price for c in cases])
    wallet = np.array([c.position.margin_usd for c in cases])
    with np.errstate(all="raise"):
        arr = liquidation_price(side=side, qty=qty, entry=entry, wallet=wallet, tiers=tiers)
        for i in range(len(cases)):
            one = liquidation_price(side=side[i], qty=qty[i], entry=entry[i], wallet=wallet[i], tiers=tiers)
            assert (math.isnan(one) and math.isnan(arr[i])) or one == arr[i]


@settings(max_examples=100, deadline=None)
@given(cross_accounts(profile_id="binance"))
def test_cross_each_lp_holds_others_at_mark(args):
    prof, positions, marks, wallet = args
    acc = Account(prof.id, wallet_usd=wallet, positions=positions, marks=marks)
    with np.errstate(all="raise"):
        aq = quote_account(prof, acc)
    # An account already below maintenance has no meaningful "price to liquidation" (it is due now;
    # a short may then have no positive root at all). The property is about healthy accounts.
    assume(not aq.cross_liquidatable_now)
    for i, qi in enumerate(aq.positions):
        lp = qi.liquidation_price
        if math.isnan(lp):
            assert qi.position.sign > 0  # a healthy short always has a liquidation price
            continue
        # healthy: the liquidation price lies on the losing side of the mark
        assert qi.position.sign * (qi.mark - lp) > 0
        equity, total = wallet, 0.0
        for j, p in enumerate(positions):
            px = lp if i == j else marks[p.symbol]
            equity += p.sign * p.qty_base * (px - p.entry_price)
            total += maintenance_margin(qty=p.qty_base, price=px, tiers=prof.effective_tiers(p.symbol))
        assert equity == pytest.approx(total, rel=1e-9, abs=1e-9 * wallet)
        assert all(p.mode is MarginMode.CROSS for p in positions)


@st.composite
def any_rules_and_table(draw):
    """A profile with every knob drawn (basis, fee model, tier at liquidation, fee) and a valid ladder."""
    from core.profiles import Contract, Rules
    from core.tiers import TierTable

    n = draw(st.integers(1, 6))
    # a real ladder: caps growing by at least 1 %, rates rising, max leverage below 1/MMR, not rising
    caps = [draw(finite(1e3, 1e6))]
    for _ in range(n - 1):
        caps.append(caps[-1] * draw(finite(1.01, 20.0)))
    floors = [0.0, *caps[:-1]]
    mmrs = [draw(finite(0.001, 0.02))]
    for _ in range(n - 1):
        mmrs.append(mmrs[-1] * draw(finite(1.05, 1.8)))  # at most 0.02 x 1.8**5 = 0.38
    levs = [max(1.0, min(1000.0, 0.9 / m)) for m in mmrs]
    tiers = TierTable.from_rows(floor=floors, cap=caps, max_leverage=levs, mmr=mmrs)
    rules = Rules(mm_basis=draw(st.sampled_from(list(MMBasis))), fee_model=draw(st.sampled_from(list(FeeModel))),
                  tier_at_liquidation=draw(st.booleans()),
                  taker_fee=draw(st.one_of(st.just(0.0), finite(1e-6, 0.002))))
    return Profile(id="p", name="p", as_of="2026-01-01", source="test", rules=rules,
                   contracts={"X": Contract(symbol="X", tiers=tiers)})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_rules_and_table(), st.data())
def test_liquidation_price_never_beyond_bankruptcy_under_any_rules(prof, data):
    # issue 10: the Binance table with tier_at_liquidation = false, or a maintenance amount larger
    # than MMR x notional, put the LP beyond the BP. Over every knob: a long's LP >= BP, a short's <= BP.
    tiers = prof.effective_tiers("X")
    notional = data.draw(finite(10.0, float(tiers.cap[-1]) * 0.999))
    entry = data.draw(finite(1.0, 100_000.0))
    k = int(tiers.index(notional))
    lev = data.draw(finite(1.0, max(1.0, tiers.leverage_cap(k))))
    side = data.draw(st.sampled_from([1, -1]))
    mode = data.draw(st.sampled_from(list(MarginMode)))
    pos = Position("X", "long" if side > 0 else "short", notional / entry, entry, lev, mode)
    wallet = notional * data.draw(finite(0.01, 2.0)) if mode is MarginMode.CROSS else 0.0
    mark = entry * data.draw(finite(0.8, 1.2))
    try:
        with np.errstate(all="raise"):
            q = quote_account(prof, Account("p", wallet, (pos,), {"X": mark})).positions[0]
    except ValueError:
        assume(False)  # a leverage the tier refuses at this notional
    lp, bp = q.liquidation_price, q.bankruptcy_price
    if math.isfinite(lp) and math.isfinite(bp):
        assert side * (lp - bp) >= -1e-9 * entry, (lp, bp, prof.rules)
    assert q.maintenance_margin >= 0

"""Tier tables: exact boundaries, the maintenance-amount recursion, continuity, the tier at the
liquidation price (checked by brute force), vectorised == scalar, and cross accounts."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from core import fmt
from core.errors import InvalidInputError
from core.liquidation import liquidation_price, liquidation_tier
from core.margin import maintenance_margin
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import FeeModel, MMBasis, load_profiles
from core.quote import quote_account, quote_position
from core.tiers import TierTable, maintenance_amounts

PROFILES = load_profiles([exchanges_dir()])
TABLES = [(pid, sym, PROFILES.get(pid).contract(sym).tiers)
          for pid in PROFILES.ids for sym in PROFILES.get(pid).symbols]
TABLE_IDS = [f"{pid}-{sym}" for pid, sym, _ in TABLES]
# The classic FAQ table is a flat rate on the whole entry notional with no maintenance amount
# (docs/domain.md §2): its MM jumps at each floor by design. Every mark-basis table must be continuous.
CONTINUOUS = [t for t in TABLES if PROFILES.get(t[0]).rules.mm_basis is MMBasis.MARK]
CONTINUOUS_IDS = [f"{pid}-{sym}" for pid, sym, _ in CONTINUOUS]
BINANCE = PROFILES.get("binance")
BTC = BINANCE.contract("BTCUSDT").tiers


# ---------------------------------------------------------------------------------------------
# Boundaries


@pytest.mark.parametrize("k", range(1, len(BTC)))
def test_notional_at_floor_belongs_to_upper_tier(k):
    floor = float(BTC.floor[k])
    assert int(BTC.index(floor)) == k
    assert int(BTC.index(np.nextafter(floor, -np.inf))) == k - 1
    assert int(BTC.index(np.nextafter(floor, np.inf))) == k


@pytest.mark.parametrize(("pid", "sym", "tiers"), CONTINUOUS, ids=CONTINUOUS_IDS)
def test_mm_continuous_at_every_boundary(pid, sym, tiers):
    for k in range(1, len(tiers)):
        f = float(tiers.floor[k])
        below = tiers.mmr[k - 1] * f - tiers.cum[k - 1]
        at = maintenance_margin(qty=1.0, price=f, tiers=tiers)
        # continuity: both tiers give the same MM at the shared boundary (to rounding)
        assert at == pytest.approx(below, rel=1e-12, abs=1e-6), (pid, sym, k)


@pytest.mark.parametrize(("pid", "sym", "tiers"), CONTINUOUS, ids=CONTINUOUS_IDS)
def test_maintenance_amounts_follow_recursion(pid, sym, tiers):
    # cum(1) = 0; cum(n) = cum(n-1) + floor(n) x (MMR(n) - MMR(n-1))   (docs/domain.md §2)
    want = [0.0]
    for k in range(1, len(tiers)):
        want.append(want[-1] + tiers.floor[k] * (tiers.mmr[k] - tiers.mmr[k - 1]))
    np.testing.assert_allclose(tiers.cum, want, rtol=1e-12, atol=1e-6)


def test_binance_btc_published_cum_values():
    # docs/domain.md §2, Binance BTCUSDT 2024-10-24 as published.
    assert BTC.cum.tolist() == [0, 50, 950, 11_450, 131_450, 481_450, 2_981_450, 14_481_450,
                                26_481_450, 41_481_450, 121_481_450, 421_481_450]
    np.testing.assert_allclose(maintenance_amounts(BTC.floor, BTC.mmr), BTC.cum, atol=1e-6)


def test_hyperliquid_mmr_from_max_leverage():
    # docs/domain.md §1: MMR = 1/(2 x max leverage): BTC 40x -> 1.25 %, above 150M 20x -> 2.5 %,
    # deduction 150M x 1.25 % = 1,875,000 by the recursion.
    t = PROFILES.get("hyperliquid").contract("BTC").tiers
    assert t.mmr.tolist() == [0.0125, 0.025]
    assert t.cum.tolist() == [0.0, 1_875_000.0]


@pytest.mark.parametrize(
    ("notional", "lev", "ok"),
    [
        (49_999.99, 125, True),    # classic tier 1 (0-50k) allows 125x
        (50_000.0, 125, False),    # the floor belongs to tier 2, 100x
        (50_000.0, 100, True),
        (999_999.0, 50, True),
        (1_000_000.0, 50, False),  # tier 4 (1M-5M) allows 20x
        (4_999_999.0, 20, True),
    ],
)
def test_leverage_checked_at_tier_of_notional(notional, lev, ok):
    prof = PROFILES.get("classic")
    pos = Position("BTCUSDT", Side.LONG, notional / 50_000.0, 50_000.0, lev)
    if ok:
        quote_position(prof, pos)
    else:
        with pytest.raises(InvalidInputError) as ei:
            quote_position(prof, pos)
        assert ei.value.field == "leverage"
        assert f"{20 if notional >= 1e6 else 100}x" in str(ei.value)


def test_classic_table_is_flat_by_design():
    # The source FAQ charges MMR on the whole notional with no maintenance amount (docs/domain.md §2).
    t = PROFILES.get("classic").contract("BTCUSDT").tiers
    assert t.cum.tolist() == [0, 0, 0, 0]
    assert maintenance_margin(qty=5, price=68_000, tiers=t) == pytest.approx(3_400.0)  # 1 % of 340,000 (docs/domain.md §5)


def test_tier_table_refuses_maintenance_amount_that_breaks_the_solver():
    # cum so large that MM falls at a floor: N + MM(N) would no longer rise with N.
    with pytest.raises(InvalidInputError, match=r"tiers\[1\]\.maintenance_amount"):
        TierTable.from_rows(floor=[0, 50_000], cap=[50_000, 100_000], max_leverage=[10, 5],
                            mmr=[0.004, 0.005], cum=[0, 60_000])


def test_tier_table_refuses_gaps_and_bad_rates():
    with pytest.raises(InvalidInputError, match=r"tiers\[1\]\.floor"):
        TierTable.from_rows(floor=[0, 60], cap=[50, 100], max_leverage=[10, 5], mmr=[0.01, 0.02])
    with pytest.raises(InvalidInputError, match=r"tiers\[0\]\.floor"):
        TierTable.from_rows(floor=[10], cap=[50], max_leverage=[10], mmr=[0.01])
    with pytest.raises(InvalidInputError, match=r"tiers\[1\]\.mmr"):
        TierTable.from_rows(floor=[0, 50], cap=[50, 100], max_leverage=[10, 5], mmr=[0.02, 0.01])
    with pytest.raises(InvalidInputError, match=r"tiers\[0\]\.cap"):
        TierTable.from_rows(floor=[0], cap=[0], max_leverage=[10], mmr=[0.01])


# ---------------------------------------------------------------------------------------------
# Tier at the liquidation price, by brute force


def _bisect_root(f, lo: float, hi: float) -> float:
    flo = f(lo)
    for _ in range(300):
        mid = 0.5 * (lo + hi)
        fm = f(mid)
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
    return 0.5 * (lo + hi)


@pytest.mark.parametrize(
    ("side", "qty", "entry", "lev"),
    [
        (Side.LONG, 10, 62_000, 10),     # entry 620,000 (bracket 3) -> LP notional ~560k (bracket 2)
        (Side.SHORT, 9, 65_000, 10),     # entry 585,000 (bracket 2) -> LP notional ~640k (bracket 3)
        (Side.LONG, 200, 62_000, 20),    # entry 12.4M (bracket 5) -> LP ~11.8M (bracket 4)
        (Side.SHORT, 190, 62_000, 20),   # entry 11.78M (bracket 4) -> LP notional ~12.2M (bracket 5)
    ],
)
def test_binance_tier_reselected_at_liquidation(side, qty, entry, lev):
    q = quote_position(BINANCE, Position("BTCUSDT", side, qty, entry, lev))
    lp = q.liquidation_price
    s, m = side.sign, q.margin

    def gap(p: float) -> float:  # equity(P) - MM(P), MM on the bracket of q x P
        return m + s * qty * (p - entry) - maintenance_margin(qty=qty, price=p, tiers=BTC)

    assert q.tier.index != q.liquidation_tier.index  # the case this test is about
    assert int(BTC.index(qty * lp)) == q.liquidation_tier.index
    assert gap(lp) == pytest.approx(0.0, abs=1e-9 * qty * entry)
    brute = _bisect_root(gap, 1e-9, entry) if s > 0 else _bisect_root(gap, entry, 10 * entry)
    assert lp == pytest.approx(brute, rel=1e-9)
    # The entry bracket's rates would put equity != MM at that price.
    k0 = q.tier.index
    lp_entry_tier = (s * qty * entry - m - BTC.cum[k0]) / (qty * (s - BTC.mmr[k0]))
    assert abs(gap(lp_entry_tier)) > 1e-6 * qty * entry


def test_entry_basis_tier_reselection_consistent():
    # Entry basis with tier_at_liquidation: MM = MMR_k x q x EP - cum_k with k the tier of q x LP.
    tiers = BTC
    s, q, ep, wb = 1.0, 10.0, 62_000.0, 62_000.0
    lp = liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, mm_basis="entry")
    k = int(tiers.index(q * lp))
    assert wb + s * q * (lp - ep) == pytest.approx(tiers.mmr[k] * q * ep - tiers.cum[k], rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Vectorised == scalar


@pytest.mark.parametrize("basis", list(MMBasis))
@pytest.mark.parametrize("fee_model", list(FeeModel))
@pytest.mark.parametrize("at_lp", [True, False])
def test_vectorised_equals_scalar(basis, fee_model, at_lp):
    rng = np.random.default_rng(20241024)
    n = 300
    side = rng.choice([-1.0, 1.0], n)
    qty = 10 ** rng.uniform(-3, 3, n)
    entry = 10 ** rng.uniform(1, 5, n)
    wallet = qty * entry * rng.uniform(0.005, 1.5, n)
    kw = dict(tiers=BTC, mm_basis=basis, fee_model=fee_model, taker_fee=0.00055, tier_at_liquidation=at_lp)
    arr = liquidation_price(side=side, qty=qty, entry=entry, wallet=wallet, **kw)
    ks = liquidation_tier(side=side, qty=qty, entry=entry, wallet=wallet, tiers=BTC, mm_basis=basis,
                          tier_at_liquidation=at_lp)
    assert arr.shape == (n,) and ks.shape == (n,)
    for i in range(n):
        one = liquidation_price(side=side[i], qty=qty[i], entry=entry[i], wallet=wallet[i], **kw)
        assert isinstance(one, float)
        assert (math.isnan(one) and math.isnan(arr[i])) or one == arr[i]
    assert np.isnan(arr).any() and np.isfinite(arr).any()  # both kinds of answer were exercised


def test_broadcasting_shapes():
    lp = liquidation_price(side=np.array([[1.0], [-1.0]]), qty=1.0, entry=np.array([100.0, 200.0, 300.0]),
                           wallet=10.0, tiers=BTC)
    assert lp.shape == (2, 3)


# ---------------------------------------------------------------------------------------------
# No liquidation price


def test_isolated_long_backed_by_full_notional_has_none():
    q = quote_position(BINANCE, Position("BTCUSDT", Side.LONG, 1, 60_000, 1, margin_usd=60_000.0))
    assert math.isnan(q.liquidation_price) and math.isnan(q.bankruptcy_price)
    assert fmt.price(q.liquidation_price, 0.1) == "--"
    assert q.as_dict()["liquidation_price"] is None
    assert "no liquidation price" in q.explain["liquidation_price"]


def test_cross_long_with_big_wallet_has_none():
    acc = Account("binance", wallet_usd=1_000_000, positions=(
        Position("BTCUSDT", Side.LONG, 1, 60_000, 20, mode=MarginMode.CROSS),))
    q = quote_account(BINANCE, acc).positions[0]
    assert math.isnan(q.liquidation_price)
    assert fmt.price(q.liquidation_price) == "--" and math.isnan(q.distance_to_liquidation)


def test_short_always_has_a_price():
    q = quote_position(BINANCE, Position("BTCUSDT", Side.SHORT, 1, 60_000, 1, margin_usd=1e6))
    assert math.isfinite(q.liquidation_price) and q.liquidation_price > 60_000


# ---------------------------------------------------------------------------------------------
# Cross: each liquidation price holds the other positions at their marks


@pytest.mark.parametrize("pid", ["binance", "hyperliquid", "bybit", "classic"])
def test_cross_two_positions_equity_equals_total_mm(pid):
    prof = PROFILES.get(pid)
    syms = list(prof.symbols)
    if len(syms) == 1:  # one contract: a second symbol with the same table (one position per symbol)
        prof = prof.with_contract(dataclasses.replace(prof.contract(syms[0]), symbol="ALTUSDT"))
        syms.append("ALTUSDT")
    s1, s2 = syms[0], syms[1]
    px1, px2 = 60_000.0, 3_000.0
    p1 = Position(s1, Side.LONG, 2, px1, 10, mode=MarginMode.CROSS)
    p2 = Position(s2, Side.SHORT, 20, px2, 10, mode=MarginMode.CROSS)
    marks = {s1: px1 * 0.98, s2: px2 * 1.01}
    acc = Account(pid, wallet_usd=15_000, positions=(p1, p2), marks=marks)
    aq = quote_account(prof, acc)
    rules = prof.rules
    for i, qi in enumerate(aq.positions):
        lp = qi.liquidation_price
        assert math.isfinite(lp)
        equity = acc.wallet_usd
        total_mm = 0.0
        for j, p in enumerate(acc.positions):
            price = lp if i == j else acc.mark_of(p)
            equity += p.sign * p.qty_base * (price - p.entry_price)
            tiers = prof.effective_tiers(p.symbol)
            basis_px = p.entry_price if rules.mm_basis is MMBasis.ENTRY else price
            k = tiers.index(p.qty_base * basis_px)
            total_mm += tiers.mmr[k] * p.qty_base * basis_px - tiers.cum[k]
            if rules.fee_model is FeeModel.CLOSE_FEE:
                # this position's own fee at its bankruptcy price; the others' at their opening one
                total_mm += qi.close_fee if i == j else rules.taker_fee * p.qty_base * p.entry_price * (1 - p.sign / p.leverage)
        assert equity == pytest.approx(total_mm, rel=1e-9, abs=1e-9 * acc.wallet_usd)
        # and the liquidation tier quoted is the tier of the notional at LP (mark basis)
        if rules.mm_basis is MMBasis.MARK and rules.tier_at_liquidation:
            assert qi.liquidation_tier.index == int(prof.effective_tiers(qi.position.symbol).index(qi.position.qty_base * lp))

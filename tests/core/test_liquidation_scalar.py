"""One position in plain numbers gets the same floats as the same position inside an array.

core.liquidation solves a call with plain numbers on Python floats (the window quotes one position
at a time) and arrays with numpy, large ones through the bucket-table fast path; every rule is one
function both go through (module notes, "One position and whole arrays"). These properties hold it
to that, bit for bit, over random positions on every shipped profile and every rule knob: the MM
basis, the fee model (the fee to close with and without its own margin), the tier at the
liquidation price or at entry, and the floor at the bankruptcy price (a one-tier table with a
maintenance amount, a tier chosen at entry).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import liquidation as liq
from core.liquidation import bankruptcy_price, close_fee, liquidation_price, liquidation_tier
from core.model import Side
from core.profiles import FeeModel, MMBasis
from core.tiers import TierTable

from .strategies import PROFILES, finite

FAST = liq._FAST_MIN_SIZE  # arrays this long take the bucket-table path

SHIPPED = [(pid, sym) for pid in sorted(PROFILES.ids) for sym in PROFILES.get(pid).symbols]
CUSTOM = {
    # one tier with a maintenance amount: MM = MMR*N - 500 is negative below 50,000, so the root
    # may lie beyond the bankruptcy price and is floored there
    "one tier with an amount": TierTable.single(mmr=0.01, max_leverage=50, maintenance_amount=500),
    # floors 1 % apart: several keys share one bucket of the fast path
    "crowded": TierTable.from_rows(floor=[0, 100_000, 101_000, 102_000, 1e6],
                                   cap=[100_000, 101_000, 102_000, 1e6, 1e8],
                                   max_leverage=[100, 90, 80, 50, 10], mmr=[0.004, 0.005, 0.006, 0.01, 0.05]),
}


def _tables(name: str) -> TierTable:
    if name in CUSTOM:
        return CUSTOM[name]
    pid, sym = name.split(" ")
    return PROFILES.get(pid).contract(sym).tiers


TABLE_NAMES = [f"{pid} {sym}" for pid, sym in SHIPPED] + list(CUSTOM)


@st.composite
def rules(draw, table_name: str | None = None):
    """A tier table and every knob of the liquidation price, the shipped profile's own or any."""
    name = table_name or draw(st.sampled_from(TABLE_NAMES))
    pid = name.split(" ")[0]
    own = PROFILES.get(pid).rules if pid in PROFILES.ids else None
    if own is not None and draw(st.booleans()):
        kw = {"mm_basis": own.mm_basis, "fee_model": own.fee_model, "taker_fee": own.taker_fee,
              "tier_at_liquidation": own.tier_at_liquidation}
    else:
        kw = {"mm_basis": draw(st.sampled_from(list(MMBasis))),
              "fee_model": draw(st.sampled_from(list(FeeModel))),
              "taker_fee": draw(st.one_of(st.just(0.0), finite(1e-6, 0.002))),
              "tier_at_liquidation": draw(st.booleans())}
    return _tables(name), kw


@st.composite
def positions(draw, tiers: TierTable, n_max: int = 6):
    """Random positions around the table: isolated-like margins and cross collateral (WB' below
    zero, or above the notional: no price)."""
    n = draw(st.integers(1, n_max))
    top = min(float(tiers.cap[-1]), 5e9)
    out = []
    for _ in range(n):
        notional = draw(finite(1.0, top))
        entry = draw(finite(0.01, 200_000.0))
        wallet = notional * draw(st.one_of(finite(0.002, 1.0), finite(-0.5, 2.0)))
        margin = notional * draw(finite(0.002, 1.0))
        out.append((draw(st.sampled_from([1, -1])), notional / entry, entry, wallet, margin))
    return out


def _bits(x: float) -> int | str:
    """A float's bit pattern; every NaN alike."""
    return "nan" if math.isnan(x) else int(np.float64(x).view(np.int64))


def _same(one: list[float], arr: np.ndarray) -> None:
    assert [_bits(x) for x in one] == [_bits(x) for x in arr.tolist()]


def _as_arrays(rows, length: int) -> list[np.ndarray]:
    """The rows' columns, repeated to ``length`` (so that a short list still takes the fast path)."""
    cols = [np.array(c, dtype=float) for c in zip(*rows, strict=True)]
    reps = -(-length // len(rows))
    return [np.tile(c, reps)[:length] for c in cols]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_liquidation_price_scalar_equals_array_bit_for_bit(data):
    tiers, kw = data.draw(rules())
    rows = data.draw(positions(tiers))
    with_margin = kw["fee_model"] is FeeModel.CLOSE_FEE and data.draw(st.booleans())
    one = []
    for side, q, ep, wb, mg in rows:
        extra = {"fee_margin": mg} if with_margin else {}
        x = liquidation_price(side=side, qty=q, entry=ep, wallet=wb, tiers=tiers, **kw, **extra)
        assert type(x) is float
        one.append(x)
    for length in (len(rows), FAST + 3):  # the plain array path, then the fast path
        s, q, ep, wb, mg = _as_arrays(rows, length)
        extra = {"fee_margin": mg} if with_margin else {}
        arr = liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, **kw, **extra)
        _same((one * -(-length // len(rows)))[:length], arr)  # the rows repeat in the long array


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_tier_bankruptcy_and_fee_scalar_equal_array(data):
    tiers, kw = data.draw(rules())
    rows = data.draw(positions(tiers))
    s, q, ep, wb, mg = _as_arrays(rows, len(rows))
    tier_kw = {"mm_basis": kw["mm_basis"], "tier_at_liquidation": kw["tier_at_liquidation"]}
    ks = liquidation_tier(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, **tier_kw)
    fee_model, f = kw["fee_model"], kw["taker_fee"]
    bps = bankruptcy_price(side=s, qty=q, entry=ep, wallet=wb, fee_model=fee_model, taker_fee=f)
    fees = close_fee(side=s, qty=q, entry=ep, margin=mg, taker_fee=f)
    for i, (side, qi, ei, wi, mi) in enumerate(rows):
        k = liquidation_tier(side=side, qty=qi, entry=ei, wallet=wi, tiers=tiers, **tier_kw)
        assert type(k) is int and k == ks[i]
        bp = bankruptcy_price(side=side, qty=qi, entry=ei, wallet=wi, fee_model=fee_model, taker_fee=f)
        fee = close_fee(side=side, qty=qi, entry=ei, margin=mi, taker_fee=f)
        _same([bp, fee], np.array([bps[i], fees[i]]))


@pytest.mark.parametrize("side", [1, 1.0, np.float64(1.0), "long", "LONG", Side.LONG])
def test_every_spelling_of_a_side_is_one_position(side):
    tiers = _tables("binance BTCUSDT")
    got = liquidation_price(side=side, qty=2.0, entry=60_000, wallet=8_000, tiers=tiers)
    assert type(got) is float
    assert got == liquidation_price(side=np.array([1.0]), qty=2.0, entry=60_000.0, wallet=8_000.0,
                                    tiers=tiers)[0]


def test_a_side_that_is_neither_long_nor_short_has_no_price():
    tiers = _tables("binance BTCUSDT")
    for side in (0, 0.0, math.nan):
        assert math.isnan(liquidation_price(side=side, qty=2.0, entry=60_000, wallet=8_000, tiers=tiers))
        assert math.isnan(bankruptcy_price(side=side, qty=2.0, entry=60_000, wallet=8_000))
    s = np.zeros(FAST + 1)
    with np.errstate(all="raise"):
        assert np.isnan(liquidation_price(side=s, qty=2.0, entry=60_000.0, wallet=8_000.0, tiers=tiers)).all()


def test_zero_size_falls_back_to_numpy_inf_and_nan():
    # 0 / 0 in floats raises; the call answers as numpy does (no price), without a warning
    tiers = _tables("binance BTCUSDT")
    with np.errstate(all="raise"):
        assert math.isnan(liquidation_price(side=1, qty=0.0, entry=60_000.0, wallet=8_000.0, tiers=tiers))
        assert math.isnan(bankruptcy_price(side=1, qty=0.0, entry=60_000.0, wallet=8_000.0))


def test_one_position_does_not_touch_numpy(monkeypatch):
    # The scalar path is plain Python: if it fell back to numpy it would find these gone.
    tiers = _tables("binance BTCUSDT")
    expected = liquidation_price(side=1, qty=2.0, entry=60_000.0, wallet=8_000.0, tiers=tiers)

    def boom(*a, **k):
        raise AssertionError("numpy used for one position")

    for name in ("asarray", "where", "searchsorted", "errstate"):
        monkeypatch.setattr(liq.np, name, boom)
    assert liquidation_price(side=1, qty=2.0, entry=60_000.0, wallet=8_000.0, tiers=tiers) == expected
    assert liquidation_tier(side=-1, qty=2.0, entry=60_000.0, wallet=8_000.0, tiers=tiers) >= 0
    assert bankruptcy_price(side=1, qty=2.0, entry=60_000.0, wallet=8_000.0) > 0
    assert close_fee(side=1, qty=2.0, entry=60_000.0, margin=8_000.0, taker_fee=0.00055) > 0

"""The large-array path of the liquidation solver gives exactly the plain path's answers.

Arrays of at least ``_FAST_MIN_SIZE`` elements take a bucket-table lookup instead of
``np.searchsorted`` (core/liquidation.py, "Fast path"). Nothing about the result may change, so
every comparison here is bit for bit (NaN equal to NaN), against

* a brute force written out per element in plain Python: the tier is the last one whose key
  ``floor_k -/+ MM(floor_k)`` is at or below the target ``q*EP -/+ WB`` (module notes of
  core.liquidation), the price is the closed form in the same operation order;
* the plain path itself, by feeding the same elements in pieces too small for the fast path.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from core import liquidation as liq
from core.liquidation import liquidation_price, liquidation_tier
from core.paths import exchanges_dir
from core.profiles import load_profiles
from core.tiers import TierTable

N = 40_000  # above the fast-path threshold
assert N >= liq._FAST_MIN_SIZE


@pytest.fixture(scope="module")
def profiles():
    return load_profiles([exchanges_dir()])


def _tables(profiles) -> dict[str, TierTable]:
    out = {
        "binance BTCUSDT": profiles.get("binance").contract("BTCUSDT").tiers,
        "binance ETHUSDT": profiles.get("binance").contract("ETHUSDT").tiers,
        "hyperliquid BTC": profiles.get("hyperliquid").contract("BTC").tiers,
        "classic BTCUSDT": profiles.get("classic").contract("BTCUSDT").tiers,
        # Floors 1 % apart: several keys share one 1/16-octave bucket, so marked elements need more
        # than one comparison.
        "crowded": TierTable.from_rows(floor=[0, 100_000, 101_000, 102_000, 103_000, 1e6],
                                       cap=[100_000, 101_000, 102_000, 103_000, 1e6, 1e8],
                                       max_leverage=[100, 90, 80, 70, 50, 10],
                                       mmr=[0.004, 0.005, 0.006, 0.007, 0.01, 0.05]),
    }
    return out


def _brute_tier(keys: np.ndarray, target: float) -> int:
    count = 0
    for key in keys:  # keys are sorted: count those at or below the target
        if key <= target:
            count += 1
    return min(max(count - 1, 0), len(keys) - 1)


def _brute_price(tiers: TierTable, s: float, q: float, ep: float, wb: float) -> float:
    target = q * ep - s * wb
    keys = tiers._key_long if s > 0 else tiers._key_short
    k = _brute_tier(keys, target)
    mmr, cum = float(tiers.mmr[k]), float(tiers.cum[k])
    lp = (s * q * ep - wb - cum) / (q * (s - mmr))
    return lp if lp > 0 else math.nan


def _random_book(tiers: TierTable, n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    s = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    ep = rng.uniform(0.5, 120_000.0, n)
    cap = tiers.max_notional if math.isfinite(tiers.max_notional) else 1e10
    notional = np.exp(rng.uniform(np.log(10.0), np.log(cap), n))
    q = notional / ep
    # Collateral from deeply negative (a cross share eaten by other positions' losses) to more
    # than the notional (no liquidation price for a long).
    wb = notional * rng.uniform(-0.5, 1.5, n)
    return s, q, ep, wb


def _plain_in_pieces(fn, n: int, piece: int = 1_000, **arrays: np.ndarray) -> np.ndarray:
    assert piece < liq._FAST_MIN_SIZE
    parts = [fn(**{k: v[i:i + piece] for k, v in arrays.items()}) for i in range(0, n, piece)]
    return np.concatenate(parts)


@pytest.mark.parametrize("name", ["binance BTCUSDT", "binance ETHUSDT", "hyperliquid BTC",
                                  "classic BTCUSDT", "crowded"])
def test_fast_path_equals_brute_force_and_plain_path(profiles, name):
    tiers = _tables(profiles)[name]
    s, q, ep, wb = _random_book(tiers, N, seed=len(name))
    with np.errstate(all="raise"):
        fast = liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers)
    assert fast.shape == (N,)
    brute = np.array([_brute_price(tiers, *v) for v in zip(s.tolist(), q.tolist(), ep.tolist(),
                                                            wb.tolist(), strict=True)])
    np.testing.assert_array_equal(fast, brute)  # bit for bit; NaN matches NaN

    def plain(**kw):
        return liquidation_price(tiers=tiers, **kw)

    np.testing.assert_array_equal(fast, _plain_in_pieces(plain, N, side=s, qty=q, entry=ep, wallet=wb))
    # Not a vacuous comparison: both kinds of answer occur and many tiers are used.
    assert np.isnan(fast).any() and np.isfinite(fast).any()
    k = liquidation_tier(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers)
    assert len(np.unique(k)) == len(tiers)


def test_liquidation_notional_lies_in_the_tier_used(profiles):
    # The spec behind the lookup (docs/domain.md §2, Binance's rule): the tier is the one of the
    # liquidation notional q*LP itself.
    tiers = profiles.get("binance").contract("BTCUSDT").tiers
    s, q, ep, wb = _random_book(tiers, N, seed=7)
    lp = liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers)
    k = liquidation_tier(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers)
    ok = np.isfinite(lp) & (q * lp < tiers.max_notional)
    n_lp = q[ok] * lp[ok]
    tol = 1e-9 * n_lp
    assert np.all(n_lp >= tiers.floor[k[ok]] - tol)
    assert np.all(n_lp < tiers.cap[k[ok]] + tol)


def _edge_targets(tiers: TierTable) -> np.ndarray:
    keys = np.concatenate([tiers._key_long, tiers._key_short])
    edges = [keys, np.nextafter(keys, np.inf), np.nextafter(keys, -np.inf), -keys]
    # Bucket edges: every bucket boundary (1/2**m of an octave, m mantissa bits in the bucket)
    # across the keys' range, and the values either side.
    m = 1 << (52 - liq._BUCKET_SHIFT)
    powers = np.ldexp(1.0 + np.arange(m) / m, np.arange(-2, 36)[:, None]).ravel()
    edges += [powers, np.nextafter(powers, -np.inf), -powers]
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324, 1e300, -1e300])
    return np.concatenate([*edges, special])


@pytest.mark.parametrize("name", ["binance BTCUSDT", "crowded", "classic BTCUSDT"])
def test_bucket_rates_at_keys_bucket_edges_and_special_values(profiles, name):
    # The lookup reads u = s*T: with the sign bit clear the long keys are counted at or below u,
    # with it set the short keys at or below -u (module notes, "Fast path"). At every key, next to
    # it, at bucket edges and at special values it must give the rates of that count.
    tiers = _tables(profiles)[name]
    look = liq._table(tiers).lookup()
    assert look is not None
    base = _edge_targets(tiers)
    u = np.concatenate([base, -base])
    m = u.size
    buffers = (np.empty(m, dtype=np.intp), np.empty(m), np.empty(m), np.empty(m, dtype=bool))
    s_cum, one_minus = look.lookup(u, *buffers)
    expect = []
    for x in u.tolist():
        sign = math.copysign(1.0, x)
        if math.isnan(x):
            k = len(tiers) - 1  # NaN counts every key (as np.searchsorted does); no price follows
        else:
            k = _brute_tier(tiers._key_short if sign < 0 else tiers._key_long, abs(x))
        expect.append((sign * float(tiers.cum[k]), 1.0 - sign * float(tiers.mmr[k])))
    np.testing.assert_array_equal(s_cum, [e[0] for e in expect])
    np.testing.assert_array_equal(one_minus, [e[1] for e in expect])


def test_several_keys_in_one_bucket_are_all_counted(profiles):
    # The crowded table puts several keys in one bucket (floors 1 % apart): its elements are
    # resolved by counting every key, and the test above checks them at each key and between.
    tiers = _tables(profiles)["crowded"]
    buckets = np.concatenate([tiers._key_long, tiers._key_short]).view(np.uint64) >> np.uint64(liq._BUCKET_SHIFT)
    assert np.unique(buckets, return_counts=True)[1].max() >= 2


def test_unsorted_keys_fall_back_to_searchsorted(profiles):
    # TierTable refuses maintenance amounts that make N - MM(N) fall at a floor, so unsorted keys
    # cannot come from a profile; should one ever slip through, the bucket table is not built and
    # the solver keeps the plain binary search. Forge such a table to see that it does.
    odd = TierTable.from_rows(floor=[0, 50_000, 600_000], cap=[50_000, 600_000, 3e6],
                              max_leverage=[125, 100, 75], mmr=[0.004, 0.005, 0.0065])
    object.__setattr__(odd, "_key_long", np.array([0.0, 60_000.0, 50_000.0]))
    assert liq._table(odd).lookup() is None
    s, q, ep, wb = _random_book(odd, N, seed=3)
    fast = liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=odd)

    def plain(**kw):
        return liquidation_price(tiers=odd, **kw)

    np.testing.assert_array_equal(fast, _plain_in_pieces(plain, N, side=s, qty=q, entry=ep, wallet=wb))


@pytest.mark.parametrize("fee_model", ["taker_in_mmr", "close_fee"])
def test_fee_models_and_broadcasting_through_the_fast_path(profiles, fee_model):
    tiers = profiles.get("binance").contract("BTCUSDT").tiers
    s, q, ep, wb = _random_book(tiers, N, seed=11)
    kw = {"tiers": tiers, "fee_model": fee_model, "taker_fee": 0.0005}
    # A 2-D book with a shared entry column: the result keeps the broadcast shape.
    fast = liquidation_price(side=s.reshape(200, 200), qty=q.reshape(200, 200), entry=ep[:200, None],
                             wallet=wb.reshape(200, 200), **kw)
    assert fast.shape == (200, 200)
    ep_full = np.broadcast_to(ep[:200, None], (200, 200)).ravel()

    def plain(**a):
        return liquidation_price(**kw, **a)

    np.testing.assert_array_equal(fast.ravel(), _plain_in_pieces(plain, N, side=s, qty=q, entry=ep_full,
                                                                  wallet=wb))


def test_side_zero_and_nan_follow_the_plain_path(profiles):
    # Not valid positions, but the array API accepts them: the answers must not change either.
    tiers = profiles.get("binance").contract("BTCUSDT").tiers
    s, q, ep, wb = _random_book(tiers, N, seed=5)
    s = s.copy()
    s[::7] = 0.0
    s[3::11] = np.nan
    fast = liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers)

    def plain(**kw):
        return liquidation_price(tiers=tiers, **kw)

    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(fast, _plain_in_pieces(plain, N, side=s, qty=q, entry=ep, wallet=wb))


def test_only_the_last_few_bucket_tables_are_kept(profiles):
    # 4 MB each: a session that solves books on many tables keeps the latest eight, and a table
    # whose lookup was dropped builds it again, with the same answers.
    base = profiles.get("binance").contract("BTCUSDT").tiers
    s, q, ep, wb = _random_book(base, N, seed=13)
    tables = [base.with_mmr_offset(k * 1e-5) for k in range(1, liq._LOOKUPS_KEPT + 3)]
    first = liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tables[0])
    for t in tables[1:]:
        liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=t)
    assert len(liq._WITH_LOOKUP) <= liq._LOOKUPS_KEPT
    assert not liq._table(tables[0])._lookup_built
    np.testing.assert_array_equal(liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tables[0]), first)

"""Liquidation and bankruptcy prices, solved exactly and over whole arrays.

Every linear (USDT/USDC-settled) liquidation price solves one equation (DOMAIN.md §1):

    WB' + s * q * (P - EP) = MM(P) [+ fee to close]

with ``WB'`` the collateral available to the position: its isolated margin, or in cross mode the
wallet plus the other cross positions' uPnL minus their maintenance margin, each held at its mark.

Mark basis, tier k (Binance, Bybit UTA, Hyperliquid)::

    LP = (s*q*EP - WB' - cum_k) / (q * (s - MMR_k))

Entry basis (the source FAQ, classic Bybit docs)::

    LP = EP - s * (WB' - (MMR_k*q*EP - cum_k)) / q

Bankruptcy (equity exactly zero)::

    BP = EP - s * WB' / q
    close_fee model:  BP_long = (q*EP - WB') / (q*(1 - f)),  BP_short = (q*EP + WB') / (q*(1 + f))

Tier at the liquidation price
-----------------------------
Under the mark basis the tier is the one of the notional ``N = q*LP`` itself. With maintenance
amounts from the continuity recursion, ``MM(N)`` is continuous, so for a long the root satisfies
``N - MM(N) = q*EP - WB'`` and for a short ``N + MM(N) = q*EP + WB'``; both left sides increase
with N. Their values at the tier floors are precomputed by :class:`~core.tiers.TierTable`, so the
consistent tier is found with one ``searchsorted`` per side: exact, no iteration.

No liquidation price
--------------------
A long whose root is at or below zero (the collateral covers the whole notional) has none: the
result is NaN, which people see as "--" and JSON as ``null``.

References
----------
https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93
https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account
https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core.margin import _out, side_sign
from core.profiles import FeeModel, MMBasis
from core.tiers import TierTable

ArrayLike = npt.ArrayLike


# A long backed by (almost) its whole notional solves to a price of zero, which rounding turns into
# +-1e-16-sized noise; anything below this fraction of the entry is "no price" (NaN, shown as --).
_NO_PRICE_BELOW = 1e-9


def bankruptcy_price(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, wallet: ArrayLike,
                     fee_model: FeeModel | str = FeeModel.NONE, taker_fee: float = 0.0) -> Any:
    """Price at which the position's collateral is exactly used up.

    Parameters
    ----------
    side : +1 long, -1 short (or ``Side``).
    qty : size in base units, > 0.
    entry : average entry price.
    wallet : collateral available to the position, ``WB'`` (isolated margin, or the cross share).
    fee_model : under ``close_fee`` the price leaves room for the taker fee to close there.
    taker_fee : taker fee rate (0.00055 = 0.055 %).

    Returns
    -------
    float or ndarray; NaN where no positive price exists (a long backed by its full notional).

    Examples
    --------
    The source FAQ: 5 BTC long at 68,000 with 34,000 margin (DOMAIN.md §5):

    >>> bankruptcy_price(side=1, qty=5, entry=68_000, wallet=34_000)
    61200.0
    """
    s = np.asarray(side_sign(side), dtype=float)
    q = np.asarray(qty, dtype=float)
    ep = np.asarray(entry, dtype=float)
    wb = np.asarray(wallet, dtype=float)
    if FeeModel(fee_model) is FeeModel.CLOSE_FEE:
        bp = (q * ep - s * wb) / (q * (1.0 - s * taker_fee))
    else:
        bp = ep - s * wb / q
    return _out(np.where(bp > ep * _NO_PRICE_BELOW, bp, np.nan))


def close_fee(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, margin: ArrayLike,
              taker_fee: float) -> Any:
    """Estimated fee to close a position at its bankruptcy price (fee model ``close_fee``, Bybit UTA).

    ``fee = f * q * BP(margin)``, with ``BP`` the bankruptcy price of the margin assigned to the
    position, itself leaving room for that fee: ``BP = (q*EP -/+ margin) / (q*(1 -/+ f))``. The
    margin is the isolated position's own margin, or for a cross position its initial margin
    (opening requirement), so that the fee is a property of the position alone and one number: the
    maintenance margin shown, the margin ratio, the liquidation test and the liquidation price all
    add the same fee (DOMAIN.md §1). With the opening requirement as margin, ``BP = EP*(1 -/+ 1/L)``.

    Examples
    --------
    Bybit UTA, 1 BTC long at 40,000, 50x, taker 0.055 %: margin 821.56 (800 + the fee itself),
    BP = 39,200, fee = 0.00055 x 39,200 = 21.56.

    >>> round(close_fee(side=1, qty=1, entry=40_000, margin=821.56, taker_fee=0.00055), 6)
    21.56

    References
    ----------
    https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account
    """
    bp = np.asarray(bankruptcy_price(side=side, qty=qty, entry=entry, wallet=margin,
                                     fee_model=FeeModel.CLOSE_FEE, taker_fee=taker_fee))
    return _out(taker_fee * np.asarray(qty, dtype=float) * np.where(np.isnan(bp), 0.0, bp))


def _mark_basis_tier(tiers: TierTable, s: Any, target: Any) -> Any:
    """Tier index whose notional range holds the liquidation notional (see module notes)."""
    n = len(tiers)
    if n == 1:
        return np.zeros(np.shape(target), dtype=np.intp)
    flat = _fast_flat(s, target)
    look = _mark_lookup(tiers) if flat is not None else None
    if flat is not None and look is not None:
        (s_f, target_f), shape = flat
        return _mark_tier_fast(look, s_f, target_f).reshape(shape)
    k_long = np.searchsorted(tiers._key_long, target, side="right") - 1
    k_short = np.searchsorted(tiers._key_short, target, side="right") - 1
    return np.clip(np.where(s > 0, k_long, k_short), 0, n - 1)


# ---------------------------------------------------------------------------------------------
# Fast path for large arrays: the tier at the liquidation price without a binary search.
#
# np.searchsorted over a million targets costs six times the whole closed form. The keys are few
# and fixed per table, so the lookup is precomputed instead: the top 16 bits of a float64 (sign,
# exponent and 4 mantissa bits: 1/16 of an octave) name a bucket, and a table gives, per side and
# bucket, how many keys lie at or below every value of the bucket. The few buckets that hold a key
# are marked; only their elements are compared with that key. The result is the same count
# np.searchsorted(keys, target, side="right") gives, so the prices are bit for bit those of the
# plain path (tests/core/test_liquidation_fastpath.py checks it against a per-tier brute force).
# The work runs in chunks that stay in cache, reusing a few buffers.

_BUCKET_SHIFT: Final = 48  # keep the top 64 - 48 = 16 bits of the float64 bit pattern
_N_BUCKETS: Final = 1 << (64 - _BUCKET_SHIFT)
_FAST_MIN_SIZE: Final = 32_768  # below this the table does not pay for itself; use searchsorted
_CHUNK: Final = 65_536
_LOOKUP_CACHE_SIZE: Final = 32


@dataclass(frozen=True, slots=True, eq=False)
class _MarkLookup:
    """Per-table lookup for the mark-basis tier at the liquidation notional.

    ``bucket[(2*b + is_long) mod 2*2**16]`` is a flat index ``j`` into the per-side arrays (short
    entries first, then long ones; ``n + 1`` entries per side, the count of keys at or below the
    target), or ``~j`` when a key lies inside bucket ``b`` and the element must be compared.
    """

    bucket: npt.NDArray[np.intp]
    key: npt.NDArray[np.float64]  # the keys of each side followed by +inf
    tier: npt.NDArray[np.intp]  # count -> tier index, clipped to [0, n-1]
    mmr: npt.NDArray[np.float64]
    cum: npt.NDArray[np.float64]
    steps: int  # the most keys inside one bucket: how many comparisons a marked element needs


_LOOKUPS: dict[tuple[int, float], tuple[TierTable, _MarkLookup | None]] = {}
_LOOKUPS_LOCK = threading.Lock()


def _build_mark_lookup(tiers: TierTable) -> _MarkLookup | None:
    """The bucket table of ``tiers``; None when a side's keys are not sorted (then searchsorted)."""
    n = len(tiers)
    keys_by_side = (tiers._key_short, tiers._key_long)
    if any(np.any(np.diff(k) < 0) or not np.all(np.isfinite(k)) for k in keys_by_side):
        return None
    b = np.arange(_N_BUCKETS, dtype=np.int64)
    low_bits = b.astype(np.uint64) << np.uint64(_BUCKET_SHIFT)
    first = low_bits.view(np.float64)  # the bit pattern that opens the bucket
    last = (low_bits | np.uint64((1 << _BUCKET_SHIFT) - 1)).view(np.float64)
    negative = b >= _N_BUCKETS // 2
    exp_mask = 0x7FF << (52 - _BUCKET_SHIFT)
    special = (b & exp_mask) == exp_mask  # inf and NaN: take the opening pattern (inf, -inf, NaN)
    lo = np.where(special, first, np.where(negative, last, first))  # smallest value in the bucket
    hi = np.where(special, first, np.where(negative, first, last))  # largest value in the bucket
    signed = np.where(negative, b - _N_BUCKETS, b)  # what `bits >> 48` gives as int64
    bucket = np.empty(2 * _N_BUCKETS, dtype=np.intp)
    key = np.empty(2 * (n + 1))
    tier = np.empty(2 * (n + 1), dtype=np.intp)
    steps = 0
    for is_long, keys in enumerate(keys_by_side):
        base = is_long * (n + 1)
        with np.errstate(invalid="ignore"):
            c_lo = np.searchsorted(keys, lo, side="right")
            c_hi = np.searchsorted(keys, hi, side="right")
        inside = np.where(special, 0, c_hi - c_lo)
        steps = max(steps, int(inside.max()))
        j = base + c_lo
        bucket[(2 * signed + is_long) % (2 * _N_BUCKETS)] = np.where(inside > 0, ~j, j)
        key[base:base + n] = keys
        key[base + n] = np.inf
        tier[base:base + n + 1] = np.clip(np.arange(n + 1) - 1, 0, n - 1)
    return _MarkLookup(bucket=bucket, key=key, tier=tier, mmr=tiers.mmr[tier], cum=tiers.cum[tier],
                       steps=steps)


def _mark_lookup(tiers: TierTable, mmr_offset: float = 0.0) -> _MarkLookup | None:
    """The cached lookup of ``tiers`` with every rate raised by ``mmr_offset`` (taker_in_mmr)."""
    cache_key = (id(tiers), mmr_offset)
    hit = _LOOKUPS.get(cache_key)
    if hit is not None and hit[0] is tiers:  # the same table, not a new one at a recycled id
        return hit[1]
    lookup = _build_mark_lookup(tiers.with_mmr_offset(mmr_offset))
    with _LOOKUPS_LOCK:  # the GUI solves on a worker thread too
        while len(_LOOKUPS) >= _LOOKUP_CACHE_SIZE:
            _LOOKUPS.pop(next(iter(_LOOKUPS)))
        _LOOKUPS[cache_key] = (tiers, lookup)
    return lookup


def _fast_flat(*arrays: Any) -> tuple[tuple[npt.NDArray[np.float64], ...], tuple[int, ...]] | None:
    """The inputs broadcast and flattened to contiguous float64, or None if too small to bother."""
    shapes = [np.shape(a) for a in arrays]
    if not any(shapes):  # all scalars: one position, the common call from quote and the GUI
        return None
    shape = np.broadcast_shapes(*shapes)
    if math.prod(shape) < _FAST_MIN_SIZE:
        return None
    flat = tuple(np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=float), shape)).ravel()
                 for a in arrays)
    return flat, shape


def _flat_index(look: _MarkLookup, target: Any, is_long: Any, out: Any, scratch: Any) -> Any:
    """Flat index ``j`` (see :class:`_MarkLookup`) for one chunk, written into ``out``."""
    np.right_shift(target.view(np.int64), _BUCKET_SHIFT, out=scratch)
    np.left_shift(scratch, 1, out=scratch)
    np.bitwise_or(scratch, is_long, out=scratch)
    look.bucket.take(scratch, mode="wrap", out=out)
    marked = np.flatnonzero(out < 0)
    if marked.size:
        j = ~out[marked]
        t = target[marked]
        for _ in range(look.steps):
            j += t >= look.key[j]
        out[marked] = j
    return out


def _mark_tier_fast(look: _MarkLookup, s: Any, target: Any) -> Any:
    """``_mark_basis_tier`` for large flat arrays, chunk by chunk."""
    n = s.size
    k = np.empty(n, dtype=np.intp)
    scratch = np.empty(min(n, _CHUNK), dtype=np.int64)
    is_long = np.empty(min(n, _CHUNK), dtype=bool)
    for i in range(0, n, _CHUNK):
        e = min(i + _CHUNK, n)
        m = e - i
        np.greater(s[i:e], 0, out=is_long[:m])
        _flat_index(look, target[i:e], is_long[:m], k[i:e], scratch[:m])
        look.tier.take(k[i:e], mode="clip", out=k[i:e])
    return k


def _mark_price_fast(look: _MarkLookup, s: Any, q: Any, ep: Any, wb: Any) -> Any:
    """Mark-basis liquidation prices, tier at the liquidation notional, for large flat arrays.

    The same operations in the same order as the plain path,
    ``LP = (s*q*EP - WB - cum_k) / (q*(s - MMR_k))`` with ``k`` from the target ``q*EP - s*WB``,
    so every result is identical to it, NaN where the price is not positive.
    """
    n = s.size
    lp = np.empty(n)
    c = min(n, _CHUNK)
    qe, target, buf = np.empty(c), np.empty(c), np.empty(c)
    j, scratch = np.empty(c, dtype=np.intp), np.empty(c, dtype=np.int64)
    flag = np.empty(c, dtype=bool)
    for i in range(0, n, _CHUNK):
        e = min(i + _CHUNK, n)
        m = e - i
        if m != c:
            qe, target, buf, j, scratch, flag = (a[:m] for a in (qe, target, buf, j, scratch, flag))
        si, qi, o = s[i:e], q[i:e], lp[i:e]
        np.multiply(qi, ep[i:e], out=qe)
        np.multiply(si, wb[i:e], out=target)
        np.subtract(qe, target, out=target)
        np.greater(si, 0, out=flag)
        _flat_index(look, target, flag, j, scratch)
        np.multiply(si, qe, out=o)  # (s*q)*EP == s*(q*EP) exactly: s is -1, 0, +1 or NaN
        np.subtract(o, wb[i:e], out=o)
        look.cum.take(j, mode="clip", out=buf)
        np.subtract(o, buf, out=o)
        look.mmr.take(j, mode="clip", out=buf)
        np.subtract(si, buf, out=buf)
        np.multiply(qi, buf, out=buf)
        np.divide(o, buf, out=o)
        np.multiply(ep[i:e], _NO_PRICE_BELOW, out=buf)
        np.copyto(o, np.nan, where=np.less_equal(o, buf, out=flag))
    return lp


def _entry_basis_tier_at_lp(tiers: TierTable, s: Any, q: Any, ep: Any, wb: Any) -> Any:
    """Entry basis with the tier re-selected at the liquidation notional: the first consistent tier.

    MM is fixed on the entry notional, so each tier gives one candidate price; keep the first whose
    liquidation notional lies in that tier, and the entry tier where none does.
    """
    k_entry = tiers.index(q * ep)
    chosen = np.full(np.broadcast(s, q, ep, wb).shape, -1, dtype=np.intp)
    for k in range(len(tiers)):
        lp = ep - s * (wb - (tiers.mmr[k] * q * ep - tiers.cum[k])) / q
        n_lp = q * lp
        ok = (chosen < 0) & (n_lp >= tiers.floor[k]) & (n_lp < tiers.cap[k])
        chosen = np.where(ok, k, chosen)
    return np.where(chosen < 0, k_entry, chosen)


def liquidation_tier(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, wallet: ArrayLike,
                     tiers: TierTable, mm_basis: MMBasis | str = MMBasis.MARK,
                     tier_at_liquidation: bool = True) -> Any:
    """The tier index whose rates the liquidation price is computed with (``wallet`` after fees)."""
    s = np.asarray(side_sign(side), dtype=float)
    q = np.asarray(qty, dtype=float)
    ep = np.asarray(entry, dtype=float)
    wb = np.asarray(wallet, dtype=float)
    if not tier_at_liquidation:
        return tiers.index(q * ep)
    if MMBasis(mm_basis) is MMBasis.MARK:
        return _mark_basis_tier(tiers, s, q * ep - s * wb)
    return _entry_basis_tier_at_lp(tiers, s, q, ep, wb)


def liquidation_price(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, wallet: ArrayLike,
                      tiers: TierTable, mm_basis: MMBasis | str = MMBasis.MARK,
                      fee_model: FeeModel | str = FeeModel.NONE, taker_fee: float = 0.0,
                      tier_at_liquidation: bool = True, fee_margin: ArrayLike | None = None) -> Any:
    """Mark price at which equity equals maintenance margin.

    Parameters
    ----------
    side : +1 long, -1 short (or ``Side``); broadcasts with the other arrays.
    qty : size in base units, > 0.
    entry : average entry price.
    wallet : collateral available to the position, ``WB'`` (isolated margin, or the cross share:
        wallet + other cross positions' uPnL - their maintenance margin).
    tiers : the contract's tier table (rates as the profile uses them).
    mm_basis : "mark" (MM moves with the price) or "entry" (MM fixed on the entry notional).
    fee_model : "none", "taker_in_mmr" (rates raised by ``taker_fee``) or "close_fee" (collateral
        reduced by the fee to close, :func:`close_fee`).
    taker_fee : taker fee rate.
    tier_at_liquidation : choose the tier at the liquidation notional (True) or at entry (False).
    fee_margin : under "close_fee", the margin whose bankruptcy price sets the fee (default
        ``wallet``: right for an isolated position; a cross position passes its initial margin).

    Returns
    -------
    float or ndarray; NaN where there is no positive liquidation price.

    Examples
    --------
    The source FAQ (entry basis, flat 1 % on 340,000, DOMAIN.md §5): 61,880, not the FAQ's 64,940.

    >>> from core.tiers import TierTable
    >>> flat = TierTable.single(mmr=0.01, max_leverage=50)
    >>> liquidation_price(side=1, qty=5, entry=68_000, wallet=34_000, tiers=flat, mm_basis="entry")
    61880.0

    Bybit's USDT-contract example 1: 1 BTC long at 20,000, 50x, MMR 0.5 % -> 19,700.

    >>> liquidation_price(side=1, qty=1, entry=20_000, wallet=400,
    ...                   tiers=TierTable.single(mmr=0.005, max_leverage=100), mm_basis="entry")
    19700.0
    """
    s = np.asarray(side_sign(side), dtype=float)
    q = np.asarray(qty, dtype=float)
    ep = np.asarray(entry, dtype=float)
    wb = np.asarray(wallet, dtype=float)
    fm = FeeModel(fee_model)
    mmr_offset = 0.0
    if fm is FeeModel.TAKER_IN_MMR:
        mmr_offset = taker_fee
        tiers_in, tiers = tiers, tiers.with_mmr_offset(taker_fee)
    else:
        tiers_in = tiers
        if fm is FeeModel.CLOSE_FEE:
            wb = wb - np.asarray(close_fee(side=s, qty=q, entry=ep, margin=wb if fee_margin is None else fee_margin,
                                           taker_fee=taker_fee))
    basis = MMBasis(mm_basis)
    if basis is MMBasis.MARK and tier_at_liquidation and len(tiers) > 1:
        flat = _fast_flat(s, q, ep, wb)
        look = _mark_lookup(tiers_in, mmr_offset) if flat is not None else None
        if flat is not None and look is not None:
            (s_f, q_f, ep_f, wb_f), shape = flat
            with np.errstate(divide="ignore", invalid="ignore"):
                return _mark_price_fast(look, s_f, q_f, ep_f, wb_f).reshape(shape)
    if not tier_at_liquidation:
        k = tiers.index(q * ep)
    elif basis is MMBasis.MARK:
        k = _mark_basis_tier(tiers, s, q * ep - s * wb)
    else:
        k = _entry_basis_tier_at_lp(tiers, s, q, ep, wb)
    mmr = tiers.mmr[k]
    cum = tiers.cum[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        if basis is MMBasis.MARK:
            lp = (s * q * ep - wb - cum) / (q * (s - mmr))
        else:
            lp = ep - s * (wb - (mmr * q * ep - cum)) / q
        # Maintenance margin is never below zero (core.margin.maintenance_margin). Where the tier's
        # formula MMR*N - cum would be negative at the root (a custom tier with a maintenance
        # amount, a tier chosen at entry and applied elsewhere), the position is liquidated where
        # equity reaches MM = 0: at the bankruptcy price, never beyond it.
        bp = ep - s * wb / q
        lp = np.where(s * (lp - bp) < 0, bp, lp)
    return _out(np.where(lp > ep * _NO_PRICE_BELOW, lp, np.nan))

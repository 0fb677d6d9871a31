"""Liquidation and bankruptcy prices, solved exactly, for one position or whole arrays.

Every linear (USDT/USDC-settled) liquidation price solves one equation (docs/domain.md §1):

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

A side is long (s = +1) or short (s = -1); an array element that is neither (0, NaN) has no price
(NaN). Words and ``Side`` values are read by :func:`core.margin.side_sign`.

Tier at the liquidation price
-----------------------------
Under the mark basis the tier is the one of the notional ``N = q*LP`` itself. With maintenance
amounts from the continuity recursion, ``MM(N)`` is continuous, so for a long the root satisfies
``N - MM(N) = T`` and for a short ``N + MM(N) = T``, with the target ``T = q*EP - s*WB'``; both left
sides increase with N. Their values at the tier floors are precomputed by
:class:`~core.tiers.TierTable`, so the consistent tier is the count of keys at or below ``T``:
exact, no iteration.

No liquidation price
--------------------
A long whose root is at or below zero (the collateral covers the whole notional) has none: the
result is NaN, which people see as "--" and JSON as ``null``.

One position and whole arrays
-----------------------------
Each rule is written once, as a function of plain numbers that numpy arrays go through as well
(the ``_`` functions below: the target, the roots, the bankruptcy price, the floor at it, the "no
price" test, the tier choices). A choice between two values is a ``where`` argument: ``np.where``
for arrays, :func:`_pick` for one position. A call with plain numbers (the window's quote of one
position) runs those functions on Python floats, with the tier found by ``bisect`` in per-table
tuples (:class:`_Table`, built once per table): about a microsecond, where numpy's 0-d machinery
costs tens. Arrays run the same functions on numpy arrays; large ones find the mark-basis tier with
a bucket table instead of a binary search (the fast path, at the end). Scalar and array answers are
the same floats, bit for bit (tests/core/test_liquidation_scalar.py).

References
----------
https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93
https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account
https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations
"""
from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core.contracts import ContractType, contract_type, frame_price, linear_frame
from core.margin import _out, side_sign
from core.profiles import FeeModel, MMBasis
from core.tiers import TierTable

ArrayLike = npt.ArrayLike
Where = Callable[[Any, Any, Any], Any]

# Enum members read from the class cost a third of a microsecond each on Python 3.11: the solver
# compares with these module constants instead.
_MARK: Final = MMBasis.MARK
_ENTRY: Final = MMBasis.ENTRY
_NO_FEE: Final = FeeModel.NONE
_CLOSE_FEE: Final = FeeModel.CLOSE_FEE
_TAKER_IN_MMR: Final = FeeModel.TAKER_IN_MMR
_LINEAR_CONTRACT: Final = ContractType.LINEAR

# A long backed by (almost) its whole notional solves to a price of zero, which rounding turns into
# +-1e-16-sized noise; anything below this fraction of the entry is "no price" (NaN, shown as --).
_NO_PRICE_BELOW = 1e-9


# ---------------------------------------------------------------------------------------------
# The rules, each written once. Arguments are Python floats (one position) or numpy arrays; a
# choice between values goes through `where`: np.where for arrays, _pick for one position.


def _pick(cond: Any, a: Any, b: Any) -> Any:
    """``np.where`` for one position: ``a`` if ``cond`` else ``b`` (NaN compares false in both)."""
    return a if cond else b


def _into(cond: Any, a: Any, b: Any) -> Any:
    """``np.where`` for a scalar ``a``, written into ``b`` (a new array of the result's shape)."""
    np.copyto(b, a, where=cond)
    return b


def _unit_side(x: Any) -> Any:
    """+1 long, -1 short from a signed number: ``|x| / x``, NaN (no price) for 0 and NaN.

    (``|x| / x`` is exactly +-1: a float divided by its own magnitude.) An array already made of
    +-1 is returned as it is, which is the same numbers without the division.
    """
    s = abs(x)
    if isinstance(s, np.ndarray) and s.size and not np.count_nonzero(s != 1.0):
        return x
    s /= x
    return s


def _signed_rates(s: Any, mmr: Any, cum: Any) -> tuple[Any, Any]:
    """``(s*cum_k, 1 - s*MMR_k)``: the tier's constants in :func:`_mark_root`."""
    return s * cum, 1.0 - s * mmr


def _mark_root(q: Any, t: Any, s_cum: Any, one_minus_s_mmr: Any) -> Any:
    """Mark basis, tier k: ``LP = (T - s*cum_k) / (q*(1 - s*MMR_k))``.

    The module's ``(s*q*EP - WB' - cum_k) / (q*(s - MMR_k))`` with numerator and denominator
    multiplied by s (s*s = 1): for s = +-1 the same float, bit for bit (negating both sides of a
    division is exact). Written with augmented assignments: arrays ``t`` and ``one_minus_s_mmr``
    (new arrays of the result's shape, or numpy scalars) are overwritten instead of allocating one
    array per operation; on floats these are the plain operations.
    """
    t -= s_cum
    one_minus_s_mmr *= q  # (1 - s*MMR)*q: the same float as q*(1 - s*MMR)
    t /= one_minus_s_mmr
    return t


def _entry_root(s: Any, q: Any, ep: Any, wb: Any, mmr: Any, cum: Any) -> Any:
    """Entry basis, tier k: ``LP = EP - s*(WB' - (MMR_k*q*EP - cum_k))/q``."""
    return ep - s * (wb - (mmr * q * ep - cum)) / q


def _bankruptcy(s: Any, q: Any, ep: Any, wb: Any) -> Any:
    """``BP = EP - s*WB'/q``: equity is zero there."""
    return ep - s * wb / q


def _priced(x: Any, ep: Any, where: Where, none: float = math.nan) -> Any:
    """``x`` where it is a price (above ``_NO_PRICE_BELOW`` of the entry), ``none`` where it is
    not; a NaN stays NaN. (One position makes the choice inline: it is on every quote's path.)"""
    no_price = x <= ep * _NO_PRICE_BELOW
    return (none if no_price else x) if where is _pick else where(no_price, none, x)


def _not_beyond_bankruptcy(lp: Any, s: Any, q: Any, ep: Any, wb: Any, where: Where) -> Any:
    """The liquidation price, or the bankruptcy price where the root lies beyond it.

    Maintenance margin is never below zero (core.margin.maintenance_margin). Where a tier's
    ``MMR*N - cum`` would be negative at the root (a one-tier table with a maintenance amount, a
    tier chosen at entry and applied elsewhere), the position is liquidated where equity reaches
    MM = 0: at the bankruptcy price, never beyond it.
    """
    bp = _bankruptcy(s, q, ep, wb)
    return where(s * (lp - bp) < 0, bp, lp)


def _after_close_fee(s: Any, q: Any, ep: Any, wb: Any, fee: Any, where: Where, as_fee: bool = False) -> Any:
    """``BP = (q*EP - s*WB') / (q*(1 - s*f))``: equity after the taker fee to close there is zero;
    NaN where it is not a price. With ``as_fee``, that fee instead: ``f * q * BP``, zero where the
    bankruptcy price is none (see :func:`close_fee`; one function, so one call for the fee)."""
    bp = (q * ep - s * wb) / (q * (1.0 - s * fee))
    if as_fee:
        return fee * q * _priced(bp, ep, where, 0.0)
    return _priced(bp, ep, where)


# ---------------------------------------------------------------------------------------------
# Per-table data, built once per tier table and used by both paths.


@dataclass(frozen=True, slots=True, eq=False)
class _Keys:
    """Sorted keys and, for each count c of keys at or below a value, what the count selects.

    The tier ``clip(c - 1, 0, n - 1)`` and, for one side's keys of the mark-basis rule, that
    tier's constants :func:`_signed_rates` with the side's s: per count a tuple ``(tier, s*cum,
    1 - s*MMR)`` for one position, and an array of each for many.
    """

    seq: tuple[float, ...]
    arr: npt.NDArray[np.float64]
    by_count: tuple[tuple[int, float, float], ...]
    tier: npt.NDArray[np.intp]
    s_cum: npt.NDArray[np.float64]
    one_minus_s_mmr: npt.NDArray[np.float64]

    @classmethod
    def of(cls, keys: npt.NDArray[np.float64], tiers: TierTable, s: float = 1.0) -> _Keys:
        n = len(keys)
        tier = np.clip(np.arange(n + 1) - 1, 0, n - 1).astype(np.intp)
        s_cum, one_minus = _signed_rates(s, tiers.mmr[tier], tiers.cum[tier])
        by_count = tuple(zip(tier.tolist(), s_cum.tolist(), one_minus.tolist(), strict=True))
        return cls(tuple(keys.tolist()), keys, by_count, tier, s_cum, one_minus)


def _tier(keys: _Keys, x: Any) -> Any:
    """The tier of the last key at or below ``x`` (the first tier below every key; NaN: the last).

    ``bisect_right`` on a float and ``np.searchsorted(side="right")`` on arrays count the same keys
    (NaN counts every key in both).
    """
    if isinstance(x, float):
        return keys.by_count[bisect_right(keys.seq, x)][0]
    return keys.tier[np.searchsorted(keys.arr, x, side="right")]


class _Table:
    """A tier table as the solver reads it: tuples for one position, arrays for many.

    ``tiers`` has the rates the formulas use (the taker fee added under ``taker_in_mmr``). The
    bucket lookup of the fast path is built from ``long`` and ``short`` the first time a large
    array needs it.
    """

    __slots__ = ("_lookup", "_lookup_built", "_mirrored", "cap", "cum", "floor", "has_amounts", "long", "long_scalar",
                 "mmr", "n", "notional", "root_floored", "short", "short_scalar", "tiers")

    def __init__(self, tiers: TierTable) -> None:
        self.tiers = tiers
        self.n = len(tiers)
        self.floor = tuple(tiers.floor.tolist())
        self.cap = tuple(tiers.cap.tolist())
        self.mmr = tuple(tiers.mmr.tolist())
        self.cum = tuple(tiers.cum.tolist())
        self.has_amounts = bool(np.any(tiers.cum > 0))
        self.notional = _Keys.of(tiers.floor, tiers)  # the tier of a notional (TierTable.index)
        self.long = _Keys.of(tiers._key_long, tiers, 1.0)  # floor - MM(floor)
        self.short = _Keys.of(tiers._key_short, tiers, -1.0)  # floor + MM(floor)
        # For one position, one attribute read per side. A count of 0 or 1 selects the first tier
        # alike, so the first key (0) is left out of the search: one comparison fewer, and none at
        # all for a one-tier table.
        self.long_scalar = self.long.seq[1:], self.long.by_count[1:]
        self.short_scalar = self.short.seq[1:], self.short.by_count[1:]
        # whether the mark-basis root at the liquidation tier can lie beyond BP (see _solve)
        self.root_floored = self.n == 1 and self.has_amounts
        self._lookup: _BucketLookup | None = None
        self._lookup_built = False
        self._mirrored: _BucketLookup | None = None

    def lookup(self, mirrored: bool = False) -> _BucketLookup | None:
        """The fast path's bucket table (None when a side's keys are not sorted); ``mirrored``: the
        same read at ``-u`` (:meth:`_BucketLookup.mirror`, for inverse contracts).

        4 MB each, so only the last few tables to need one keep theirs (and their mirror image).
        """
        if not self._lookup_built:
            self._lookup = _BucketLookup.of(self)
            self._lookup_built = True
            with _TABLES_LOCK:
                _WITH_LOOKUP.append(self)
                while len(_WITH_LOOKUP) > _LOOKUPS_KEPT:
                    old = _WITH_LOOKUP.pop(0)
                    old._lookup, old._lookup_built, old._mirrored = None, False, None
        if mirrored and self._lookup is not None:
            if self._mirrored is None:
                self._mirrored = self._lookup.mirror()
            return self._mirrored
        return self._lookup


# Keyed by the table itself (TierTable hashes by identity), with the rate offset when there is one;
# holding the key keeps its id from being reused while it is cached.
_TABLES: dict[Any, _Table] = {}
_TABLES_LOCK = threading.Lock()
_TABLE_CACHE_SIZE: Final = 64
_WITH_LOOKUP: list[_Table] = []  # tables holding a bucket lookup, oldest first
_LOOKUPS_KEPT: Final = 8
_LAST_TABLE: tuple[Any, Any] = (None, None)


def _table(tiers: TierTable, mmr_offset: float = 0.0) -> _Table:
    """The cached :class:`_Table` of ``tiers`` with every rate raised by ``mmr_offset``."""
    global _LAST_TABLE
    key = (tiers, mmr_offset) if mmr_offset else tiers
    table = _TABLES.get(key)
    if table is None:
        table = _Table(tiers.with_mmr_offset(mmr_offset))
        with _TABLES_LOCK:  # the GUI solves on a worker thread too
            while len(_TABLES) >= _TABLE_CACHE_SIZE:
                _TABLES.pop(next(iter(_TABLES)))
            _TABLES[key] = table
    if not mmr_offset:
        _LAST_TABLE = (tiers, table)  # one tuple, replaced whole: safe to read from any thread
    return table


# ---------------------------------------------------------------------------------------------
# The solver over either kind of argument.


def _at_liquidation(table: _Table, s: Any, q: Any, ep: Any, wb: Any, where: Where | None,
                    out: Any = None, flip: bool = False) -> tuple[Any, Any]:
    """The target ``T = q*EP - s*WB'`` and the record ``(tier, s*cum, 1 - s*MMR)`` of the tier
    holding the liquidation notional under the mark basis (module notes).

    ``N -/+ MM(N)`` equals ``T`` at the liquidation notional, so the rule is: count the long keys at
    or below ``T`` for s > 0, the short keys otherwise. One position searches its own side's keys;
    arrays search both and choose; with ``where`` None only ``T`` is computed (in ``out`` if given:
    the fast path's slice of the result) and the record is None. ``flip``: ``s`` is minus the side
    (the fast path's inverse chunks, whose frame side is not materialised), ``T = q*EP + s*WB'``.
    """
    t = q * ep if out is None else np.multiply(q, ep, out=out)
    if flip:
        t += s * wb  # the same float as t -= (-s)*wb
    else:
        t -= s * wb
    if where is _pick:
        seq, by_count = table.long_scalar if s > 0 else table.short_scalar
        return t, by_count[bisect_right(seq, t)]
    if where is None:
        return t, None
    long, short = table.long, table.short
    c_long = np.searchsorted(long.arr, t, side="right")
    c_short = np.searchsorted(short.arr, t, side="right")
    is_long = s > 0
    return t, (where(is_long, long.tier[c_long], short.tier[c_short]),
               where(is_long, long.s_cum[c_long], short.s_cum[c_short]),
               where(is_long, long.one_minus_s_mmr[c_long], short.one_minus_s_mmr[c_short]))


def _entry_tier_at_lp(table: _Table, s: Any, q: Any, ep: Any, wb: Any, k_entry: Any, where: Where) -> Any:
    """Entry basis with the tier re-selected at the liquidation notional: the first consistent tier.

    MM is fixed on the entry notional, so each tier gives one candidate price; keep the first whose
    liquidation notional lies in that tier, and the entry tier where none does.
    """
    chosen: Any = -1
    for k in range(table.n):
        n_lp = q * _entry_root(s, q, ep, wb, table.mmr[k], table.cum[k])
        ok = (chosen < 0) & (n_lp >= table.floor[k]) & (n_lp < table.cap[k])
        chosen = where(ok, k, chosen)
    return where(chosen < 0, k_entry, chosen)


def _tier_used(table: _Table, s: Any, q: Any, ep: Any, wb: Any, basis: MMBasis, at_lp: bool,
               where: Where) -> Any:
    """The tier whose rates the liquidation price uses (collateral ``wb`` after any fee to close)."""
    if not at_lp:
        return _tier(table.notional, q * ep)
    if basis is _MARK:
        return _at_liquidation(table, s, q, ep, wb, where)[1][0]
    return _entry_tier_at_lp(table, s, q, ep, wb, _tier(table.notional, q * ep), where)


def _solve(table: _Table, s: Any, q: Any, ep: Any, wb: Any, basis: MMBasis, at_lp: bool,
           where: Where) -> Any:
    """The liquidation price of positions with collateral ``wb`` (after any fee to close)."""
    if basis is _MARK and at_lp:
        t, (_, s_cum, one_minus) = _at_liquidation(table, s, q, ep, wb, where)
        lp = _mark_root(q, t, s_cum, one_minus)
        floored = table.root_floored
    else:
        k = _tier_used(table, s, q, ep, wb, basis, at_lp, where)
        mmr, cum = (table.mmr[k], table.cum[k]) if isinstance(k, int) else (table.tiers.mmr[k], table.tiers.cum[k])
        if basis is _MARK:
            lp = _mark_root(q, _at_liquidation(table, s, q, ep, wb, None)[0], *_signed_rates(s, mmr, cum))
        else:
            lp = _entry_root(s, q, ep, wb, mmr, cum)
        floored = table.has_amounts
    # Only a maintenance amount makes MM = MMR*N - cum negative, and with it the root beyond the
    # bankruptcy price; under the mark basis with the tier at the liquidation notional in a table
    # of several tiers it cannot, as the root lies inside its own tier, where
    # MMR_k*N - cum_k >= MM(floor_k) >= 0 (TierTable refuses a first tier with an amount, and
    # amounts that let MM fall at a floor).
    if floored:
        lp = _not_beyond_bankruptcy(lp, s, q, ep, wb, where)
    return _priced(lp, ep, where)


# ---------------------------------------------------------------------------------------------
# Arguments: one position as floats, or arrays.

_NUMBER: Final = (int, float)
_UNIT_SIDES: Final[dict[float, float]] = {1: 1.0, -1: -1.0}  # 1.0 and -1.0 find these too
_BASES: Final = {b.value: b for b in MMBasis}
_FEE_MODELS: Final = {m.value: m for m in FeeModel}


def _one(side: Any, qty: Any, entry: Any, wallet: Any) -> tuple[float, float, float, float] | None:
    """``(s, q, EP, WB')`` as Python floats when the call is about one position, else None.

    One position: ``side`` +-1 (a number) or a side word, and the others Python numbers
    (``numpy.float64`` is one). Anything else (arrays, other side values) goes through numpy.
    """
    if type(qty) is float and type(entry) is float and type(wallet) is float:  # the usual call
        q, ep, wb = qty, entry, wallet
    elif isinstance(qty, _NUMBER) and isinstance(entry, _NUMBER) and isinstance(wallet, _NUMBER):
        q, ep, wb = float(qty), float(entry), float(wallet)
    else:
        return None
    if isinstance(side, str):
        s = side_sign(side)
    elif isinstance(side, _NUMBER):
        s = _UNIT_SIDES.get(side)
        if s is None:
            return None
    else:
        return None
    return s, q, ep, wb


def _basis(mm_basis: MMBasis | str) -> MMBasis:
    if type(mm_basis) is MMBasis:
        return mm_basis
    hit = _BASES.get(mm_basis) if isinstance(mm_basis, str) else None
    return hit if hit is not None else MMBasis(mm_basis)


def _fee_model(fee_model: FeeModel | str) -> FeeModel:
    if type(fee_model) is FeeModel:
        return fee_model
    hit = _FEE_MODELS.get(fee_model) if isinstance(fee_model, str) else None
    return hit if hit is not None else FeeModel(fee_model)


def _arrays(side: Any, *numbers: Any, signed: bool = True) -> tuple[Any, ...]:
    """The arguments as float arrays of one shape (or 0-d), ``side`` as +-1 (:func:`_unit_side`)
    unless ``signed`` is False (the fast path signs it chunk by chunk)."""
    arrays = [np.asarray(side if isinstance(side, np.ndarray) else side_sign(side), dtype=float)]
    arrays += [np.asarray(x, dtype=float) for x in numbers]
    shape = None
    for a in arrays:
        if a.ndim and a.shape != shape:
            if shape is not None:  # the in-place formulas need one shape
                arrays = list(np.broadcast_arrays(*arrays))
                break
            shape = a.shape
    if signed:
        arrays[0] = _unit_side(arrays[0])
    return tuple(arrays)


# ---------------------------------------------------------------------------------------------
# Public functions


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
    float for one position (plain numbers), ndarray otherwise; NaN where no positive price exists
    (a long backed by its full notional).

    Examples
    --------
    The source FAQ: 5 BTC long at 68,000 with 34,000 margin (docs/domain.md §5):

    >>> bankruptcy_price(side=1, qty=5, entry=68_000, wallet=34_000)
    61200.0
    """
    close = _fee_model(fee_model) is _CLOSE_FEE
    one = _one(side, qty, entry, wallet)
    if one is not None:
        s, q, ep, wb = one
        try:
            if close:
                return _after_close_fee(s, q, ep, wb, taker_fee, _pick)
            return _priced(_bankruptcy(s, q, ep, wb), ep, _pick)
        except ZeroDivisionError:
            pass  # a zero size or fee factor: numpy's inf and NaN below
    with np.errstate(divide="ignore", invalid="ignore"):
        s, q, ep, wb = _arrays(side, qty, entry, wallet)
        if close:
            return _out(_after_close_fee(s, q, ep, wb, taker_fee, np.where))
        return _out(_priced(_bankruptcy(s, q, ep, wb), ep, np.where))


def close_fee(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, margin: ArrayLike,
              taker_fee: float) -> Any:
    """Estimated fee to close a position at its bankruptcy price (fee model ``close_fee``, Bybit UTA).

    ``fee = f * q * BP(margin)``, with ``BP`` the bankruptcy price of the margin assigned to the
    position, itself leaving room for that fee: ``BP = (q*EP -/+ margin) / (q*(1 -/+ f))``. The
    margin is the isolated position's own margin, or for a cross position its initial margin
    (opening requirement), so that the fee is a property of the position alone and one number: the
    maintenance margin shown, the margin ratio, the liquidation test and the liquidation price all
    add the same fee (docs/domain.md §1). With the opening requirement as margin, ``BP = EP*(1 -/+ 1/L)``.
    Where that bankruptcy price is none (a long backed by its whole notional), the fee is 0.

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
    one = _one(side, qty, entry, margin)
    if one is not None:
        s, q, ep, mg = one
        try:
            return _after_close_fee(s, q, ep, mg, taker_fee, _pick, True)
        except ZeroDivisionError:
            pass
    with np.errstate(divide="ignore", invalid="ignore"):
        s, q, ep, mg = _arrays(side, qty, entry, margin)
        return _out(_after_close_fee(s, q, ep, mg, taker_fee, np.where, True))


def liquidation_tier(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, wallet: ArrayLike,
                     tiers: TierTable, mm_basis: MMBasis | str = MMBasis.MARK,
                     tier_at_liquidation: bool = True) -> Any:
    """The tier index whose rates the liquidation price is computed with (``wallet`` after fees).

    ``tiers`` is the table as the formulas use it (:meth:`core.profiles.Profile.effective_tiers`).
    An int for one position, an integer array otherwise.
    """
    basis = _basis(mm_basis)
    table = _table(tiers)
    one = _one(side, qty, entry, wallet)
    if one is not None:
        s, q, ep, wb = one
        try:
            return _tier_used(table, s, q, ep, wb, basis, tier_at_liquidation, _pick)
        except ZeroDivisionError:
            pass
    with np.errstate(divide="ignore", invalid="ignore"):
        s, q, ep, wb = _arrays(side, qty, entry, wallet)
        return _tier_used(table, s, q, ep, wb, basis, tier_at_liquidation, np.where)


def liquidation_price(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, wallet: ArrayLike,
                      tiers: TierTable, mm_basis: MMBasis | str = MMBasis.MARK,
                      fee_model: FeeModel | str = FeeModel.NONE, taker_fee: float = 0.0,
                      tier_at_liquidation: bool = True, fee_margin: ArrayLike | None = None,
                      contract_type: ContractType = ContractType.LINEAR, contract_size: float = 1.0) -> Any:
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
    contract_type, contract_size : an inverse contract (docs/domain.md §7): ``qty`` in contracts of
        ``contract_size`` quote units, ``wallet`` (and ``fee_margin``) in the coin, ``tiers`` by notional
        in the coin. Solved as the linear position of :func:`core.contracts.linear_frame` and mapped
        back to a price; large arrays map chunk by chunk inside the fast path.

    Returns
    -------
    float for one position (plain numbers), ndarray otherwise; NaN where there is no positive
    liquidation price.

    Examples
    --------
    The source FAQ (entry basis, flat 1 % on 340,000, docs/domain.md §5): 61,880, not the FAQ's 64,940.

    >>> from core.tiers import TierTable
    >>> flat = TierTable.single(mmr=0.01, max_leverage=50)
    >>> liquidation_price(side=1, qty=5, entry=68_000, wallet=34_000, tiers=flat, mm_basis="entry")
    61880.0

    Bybit's USDT-contract example 1: 1 BTC long at 20,000, 50x, MMR 0.5 % -> 19,700.

    >>> liquidation_price(side=1, qty=1, entry=20_000, wallet=400,
    ...                   tiers=TierTable.single(mmr=0.005, max_leverage=100), mm_basis="entry")
    19700.0
    """
    # Written for speed: a quote calls this for every position it shows (about a microsecond).
    basis = mm_basis if mm_basis is _MARK or mm_basis is _ENTRY else _basis(mm_basis)
    fm = fee_model if fee_model is _NO_FEE or fee_model is _CLOSE_FEE else _fee_model(fee_model)
    inverse = contract_type is not _LINEAR_CONTRACT
    if inverse and not (basis is _MARK and tier_at_liquidation and fm is not _CLOSE_FEE
                        and isinstance(qty, np.ndarray) and qty.size >= _FAST_MIN_SIZE):
        # an inverse contract not on the fast path: solved whole in its linear frame
        return _inverse_prices(side, qty, entry, wallet, tiers, basis, fm, taker_fee, tier_at_liquidation,
                               fee_margin, contract_type, contract_size)
    last = _LAST_TABLE  # the table of the previous call, most often this one
    if last[0] is tiers and fm is not _TAKER_IN_MMR:
        table = last[1]
    else:
        table = _table(tiers, taker_fee if fm is _TAKER_IN_MMR else 0.0)
    close = fm is _CLOSE_FEE
    # One position (the window's quote): floats through the same functions, no numpy.
    if (qty.__class__ is float and entry.__class__ is float and wallet.__class__ is float
            and (fee_margin is None or fee_margin.__class__ is float)
            and (side.__class__ is int or side.__class__ is float)):
        s = _UNIT_SIDES.get(side)
        if s is not None:
            try:
                wb = wallet - _after_close_fee(s, qty, entry, wallet if fee_margin is None else fee_margin,
                                               taker_fee, _pick, True) if close else wallet
                return _solve(table, s, qty, entry, wb, basis, tier_at_liquidation, _pick)
            except ZeroDivisionError:
                pass  # a zero size: numpy's inf and NaN below
    elif (one := _one(side, qty, entry, wallet)) is not None and (
            fee_margin is None or isinstance(fee_margin, _NUMBER)):  # other numbers: as floats
        s, q, ep, wb = one
        return liquidation_price(side=s, qty=q, entry=ep, wallet=wb, tiers=tiers, mm_basis=basis,
                                 fee_model=fm, taker_fee=taker_fee, tier_at_liquidation=tier_at_liquidation,
                                 fee_margin=None if fee_margin is None else float(fee_margin))
    fast = basis is _MARK and tier_at_liquidation and table.n > 1
    with np.errstate(divide="ignore", invalid="ignore"):
        s, q, ep, wb = _arrays(side, qty, entry, wallet, signed=close or not fast)
        if close:
            mg = wb if fee_margin is None else np.asarray(fee_margin, dtype=float)
            wb = wb - _after_close_fee(s, q, ep, mg, taker_fee, np.where, True)
        if fast:
            lp = _mark_prices_fast(table, s, q, ep, wb, contract_type, contract_size)
            if lp is not None:
                return lp
            if not close:
                s = _unit_side(s)
        if inverse:  # no bucket table for these tiers: solved whole in the linear frame
            return _inverse_prices(side, qty, entry, wallet, tiers, basis, fm, taker_fee, tier_at_liquidation,
                                   fee_margin, contract_type, contract_size)
        return _out(_solve(table, s, q, ep, wb, basis, tier_at_liquidation, np.where))


# ---------------------------------------------------------------------------------------------
# Several legs of one symbol in cross margin (hedge mode): one price for all of them


@dataclass(frozen=True, slots=True)
class JointPrices:
    """What :func:`joint_liquidation_price` finds for the legs of one symbol.

    ``liquidation_price`` and ``bankruptcy_price`` are shared by every leg (NaN: none);
    ``tiers`` is each leg's tier at the liquidation price (at entry where there is none or the
    profile chooses the tier at entry).
    """

    liquidation_price: float
    bankruptcy_price: float
    tiers: tuple[int, ...]


def _leg_tier(table: _Table, q: float, e: float, x: float, at_lp: bool) -> int:
    """A leg's tier: of its notional at ``x`` (tier at the liquidation price) or at entry."""
    n = q * x if at_lp and math.isfinite(x) else q * e
    return min(max(bisect_right(table.floor, n) - 1, 0), table.n - 1)


def joint_liquidation_price(*, sides: Any, qtys: Any, entries: Any, wallet: float, tiers: TierTable,
                            mm_basis: MMBasis | str = MMBasis.MARK, tier_at_liquidation: bool = True,
                            bankruptcy_wallet: float | None = None) -> JointPrices:
    """The one liquidation price that several cross legs of one symbol share (hedge mode).

    Every leg moves with the one mark; every other position is held at its mark, inside
    ``wallet`` (``WB' = wallet + others' uPnL - others' MM``, after any fee to close). The price
    solves, in the linear frame (docs/domain.md §8)::

        WB' + sum_i s_i*q_i*(P - EP_i) = sum_i MM_i(P)

    each leg with its own tier (at the notional ``q_i*P`` under ``tier_at_liquidation``, as the
    single-leg solver). This is Binance's USDⓈ-M cross formula with its LONG and SHORT terms::

        LP = (WB' + cum_L + cum_S - q_L*EP_L + q_S*EP_S) / (q_L*MMR_L + q_S*MMR_S - q_L + q_S)

    solved with the tiers consistent at the price (exactly, over the breakpoints where a leg
    changes tier). With MM convex in P, equity - MM is concave, so a hedged pair may have a root on
    each side of the mark; the one returned is on the side the **net** position loses: below for
    a net long (where equity - MM turns from negative to positive as the price rises), above for a
    net short or a flat book (where it turns negative; a flat book has only the root where MM,
    growing with the price, reaches the equity). Under the entry basis with the tier chosen at the
    price, MM is a step function and several prices can qualify: the lowest is taken, which is the
    lowest tier's, as the single-position solver chooses. NaN where there is none (a net long
    backed by more than its notional). The shared bankruptcy price is where the account's equity
    before fees is zero, ``sum s_i*q_i*(P - EP_i) = -bankruptcy_wallet`` (NaN for a flat book,
    whose equity does not move). Sides are +1/-1.

    Examples
    --------
    The issue's hedge check (binance BTCUSDT, cross, wallet 15,000 USDT, long 4 @ 60,000 and short 2
    @ 61,000): net long 2, so the price lies below the mark. Both legs in bracket 2 (0.5 %, cum 50)
    there: LP = (15,000 + 50 + 50 - 240,000 + 122,000) / (4 x 0.005 + 2 x 0.005 - 4 + 2) = 52,233.50.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> t = load_profile(exchanges_dir() / "binance.json").contract("BTCUSDT").tiers
    >>> j = joint_liquidation_price(sides=[1, -1], qtys=[4, 2], entries=[60_000, 61_000], wallet=15_000.0, tiers=t)
    >>> round(j.liquidation_price, 2), j.tiers
    (52233.5, (1, 1))
    """
    basis = _basis(mm_basis)
    table = _table(tiers)
    legs = [(float(side_sign(s)), float(q), float(e)) for s, q, e in zip(sides, qtys, entries, strict=True)]
    net = math.fsum(s * q for s, q, _ in legs)
    qty = np.array([q for _, q, _ in legs])[:, None]
    ent = np.array([e for _, _, e in legs])[:, None]
    floor, mmr, cum = tiers.floor, tiers.mmr, tiers.cum
    # where a leg changes tier, or its MM reaches its floor at 0: equity - MM is linear in between
    cuts = []
    if tier_at_liquidation:
        cuts.append((floor[1:] / qty).ravel())
    if basis is _MARK:
        cuts.append((cum[cum > 0] / (mmr[cum > 0] * qty)).ravel())
    inner = np.unique(np.concatenate(cuts)) if cuts else np.empty(0)
    inner = inner[(inner > 0) & np.isfinite(inner)]
    lo = np.concatenate([[0.0], inner])
    hi = np.concatenate([inner, [math.inf]])
    mid = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * lo + 1.0)
    # every leg's tier on every interval (legs x intervals), and its MM there as a line in x
    notional = qty * mid if tier_at_liquidation else np.broadcast_to(qty * ent, (len(legs), mid.size))
    k = np.clip(np.searchsorted(floor, notional, side="right") - 1, 0, table.n - 1)
    if basis is _MARK:
        active = mmr[k] * qty * mid - cum[k] > 0  # MM is never negative (core.margin.maintenance_margin)
        mm_a, mm_b = np.where(active, -cum[k], 0.0), np.where(active, mmr[k] * qty, 0.0)
    else:
        mm_a, mm_b = np.maximum(mmr[k] * qty * ent - cum[k], 0.0), np.zeros(k.shape)
    # equity - MM = a + b*x on each interval
    a = wallet - math.fsum(s_ * q_ * e_ for s_, q_, e_ in legs) - mm_a.sum(axis=0)
    b = net - mm_b.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = -a / b
    inside = (b != 0) & (lo <= root) & (root <= hi)
    # prices where equity - MM turns positive (up) or negative (down) as the price rises: a root
    # inside an interval, or a jump at a breakpoint (a flat rate per tier, entry basis)
    left, right = a[:-1] + b[:-1] * hi[:-1], a[1:] + b[1:] * hi[:-1]
    up = np.concatenate([root[inside & (b > 0)], hi[:-1][(left < 0) & (right > 0)]])
    down = np.concatenate([root[inside & (b < 0)], hi[:-1][(left > 0) & (right < 0)]])
    ref = min(e for _, _, e in legs)
    lp = float(up.min()) if net > 0 and up.size else (float(down.min()) if net <= 0 and down.size else math.nan)
    lp = _priced(lp, ref, _pick)
    wb_bp = wallet if bankruptcy_wallet is None else bankruptcy_wallet
    bp = (math.fsum(s * q * e for s, q, e in legs) - wb_bp) / net if net else math.nan
    bp = _priced(bp, ref, _pick)
    return JointPrices(lp, bp, tuple(_leg_tier(table, q, e, lp, tier_at_liquidation) for _, q, e in legs))


def _inverse_prices(side: Any, qty: Any, entry: Any, wallet: Any, tiers: TierTable, basis: MMBasis, fm: FeeModel,
                    taker_fee: float, at_lp: bool, fee_margin: Any, kind: ContractType | str, size: float) -> Any:
    """:func:`liquidation_price` of inverse positions off the fast path: the arguments mapped whole to
    their linear frame (:func:`core.contracts.linear_frame`), solved, and the prices mapped back."""
    kind = contract_type(kind)
    if isinstance(side, str) or not isinstance(side, int | float | np.ndarray):
        side = side_sign(side)
    s, q, x = linear_frame(kind, size, side, qty if isinstance(qty, int | float) else np.asarray(qty, dtype=float),
                           entry if isinstance(entry, int | float) else np.asarray(entry, dtype=float))
    x_lp = liquidation_price(side=s, qty=q, entry=x, wallet=wallet, tiers=tiers, mm_basis=basis, fee_model=fm,
                             taker_fee=taker_fee, tier_at_liquidation=at_lp, fee_margin=fee_margin)
    return _out(frame_price(kind, size, x_lp)) if isinstance(x_lp, np.ndarray) else float(frame_price(kind, size, x_lp))


# ---------------------------------------------------------------------------------------------
# Fast path for large arrays: the mark-basis tier at the liquidation price without a binary search.
#
# np.searchsorted over a million targets costs several times the whole closed form. The keys are
# few and fixed per table, so the lookup is precomputed and read by the bits of u = s*T (one
# multiplication): for a long with a price u = T > 0, for a short with a price u = -T < 0. The top
# 18 bits of u's float64 pattern (sign, exponent and 6 mantissa bits: 1/64 of an octave) name a
# bucket: with the sign clear the long keys are counted at or below u, with it set the short keys
# at or below -u. Per bucket the table holds that count's constants (s*cum, 1 - s*MMR), or NaN
# ("marked") when a key lies inside the bucket; the few marked elements are counted exactly with
# one searchsorted over the keys' bit patterns (_BucketLookup).
#
# Wherever the plain path (_solve) finds a price, this is its tier (T = |u| on the position's own
# side), so the price is its float, bit for bit. Where T < 0 (a long backed by more than its
# notional, a short whose collateral is below minus its notional) the bucket reads the other
# side's keys, and the root is no price with any of them (q > 0): a long gets
# (T + cum_k) / (q*(1 + MMR_k)) with |T| >= key_k >= floor_k >= cum_k, so at most zero; a short
# gets (T - cum_k) / (q*(1 - MMR_k)) < 0. A side of 0 or NaN makes T NaN.
# tests/core/test_liquidation_fastpath.py and test_liquidation_scalar.py check it against the
# plain path and a per-element brute force. The work runs in chunks that stay in cache.

_SIGN_BIT: Final = np.uint64(1 << 63)
_BUCKET_SHIFT: Final = 46  # keep the top 64 - 46 = 18 bits: 2**18 buckets, 4 MB of tables
_N_BUCKETS: Final = 1 << (64 - _BUCKET_SHIFT)
_FAST_MIN_SIZE: Final = 2_048  # below this the chunk machinery costs more than two searchsorted
_CHUNK: Final = 12_288


@dataclass(frozen=True, slots=True, eq=False)
class _BucketLookup:
    """Per-table lookup of the tier's constants at the liquidation notional by the bits of ``u``.

    Read as unsigned integers, the bit patterns of floats order the non-negative ones by value, and
    every negative one (sign bit set) after them by magnitude. So one sorted array ``keys`` holds the
    long keys' patterns and, after them, the short keys' patterns with the sign bit set: the count
    of ``keys`` at or below ``u``'s pattern is the count of long keys at or below ``u`` (u >= 0), or
    n plus the count of short keys at or below ``-u`` (u < 0), and ``rates[count]`` is that tier's
    :func:`_signed_rates`. ``s_cum[b]``, ``one_minus_s_mmr[b]`` hold the same for every ``u`` in
    bucket ``b`` (the pattern's top bits), or NaN when a key lies inside the bucket ("marked").
    """

    s_cum: npt.NDArray[np.float64]
    one_minus_s_mmr: npt.NDArray[np.float64]
    keys: npt.NDArray[np.uint64]
    rates: npt.NDArray[np.float64]  # (2, 2n + 1): s*cum and 1 - s*MMR by count
    flip: bool = False  # read at -u: the mirror image (see mirror)

    def mirror(self) -> _BucketLookup:
        """This lookup read at ``-u``: the bucket of ``-u`` is that of ``u`` with its top bit (the sign)
        flipped, so the two halves of the bucket arrays swap; the few marked elements count the keys
        at ``u``'s pattern with the sign bit flipped. The fast path's inverse chunks look up ``s*T``
        where their frame side is ``-s`` (no pass over the array to negate it)."""
        half = _N_BUCKETS // 2
        return _BucketLookup(s_cum=np.concatenate([self.s_cum[half:], self.s_cum[:half]]),
                             one_minus_s_mmr=np.concatenate([self.one_minus_s_mmr[half:], self.one_minus_s_mmr[:half]]),
                             keys=self.keys, rates=self.rates, flip=not self.flip)

    @classmethod
    def of(cls, table: _Table) -> _BucketLookup | None:
        """The bucket table of ``table``; None when a side's keys are not sorted (searchsorted then)."""
        long, short = table.long, table.short
        if any(np.any(np.diff(k.arr) < 0) or np.any(np.signbit(k.arr)) or not np.all(np.isfinite(k.arr))
               for k in (long, short)):
            return None
        sign = np.uint64(1 << 63)
        keys = np.concatenate([long.arr.view(np.uint64), short.arr.view(np.uint64) | sign])
        # by count: 0..n the long keys, n + 1..2n the short ones (count - n of them)
        rates = np.stack([np.concatenate([long.s_cum, short.s_cum[1:]]),
                          np.concatenate([long.one_minus_s_mmr, short.one_minus_s_mmr[1:]])])
        first = np.arange(_N_BUCKETS, dtype=np.uint64) << np.uint64(_BUCKET_SHIFT)
        last = first | np.uint64((1 << _BUCKET_SHIFT) - 1)
        c_first = keys.searchsorted(first, side="right")
        by_bucket = np.where(keys.searchsorted(last, side="right") > c_first, np.nan, rates[:, c_first])
        return cls(s_cum=by_bucket[0].copy(), one_minus_s_mmr=by_bucket[1].copy(), keys=keys, rates=rates)

    def lookup(self, u: Any, bucket: Any, s_cum: Any, one_minus: Any, marked: Any) -> tuple[Any, Any]:
        """The constants for the numerators ``u``, written into the buffers ``s_cum``, ``one_minus``."""
        bits = u.view(np.uint64)
        np.right_shift(bits, np.uint64(_BUCKET_SHIFT), out=bucket.view(np.uint64))
        self.s_cum.take(bucket, mode="clip", out=s_cum)
        self.one_minus_s_mmr.take(bucket, mode="clip", out=one_minus)
        fix = np.isnan(s_cum, out=marked).nonzero()[0]
        if fix.size:  # the few elements in a bucket with a key: count the keys
            count = self.keys.searchsorted(bits[fix] ^ _SIGN_BIT if self.flip else bits[fix], side="right")
            s_cum.put(fix, self.rates[0].take(count))
            one_minus.put(fix, self.rates[1].take(count))
        return s_cum, one_minus


def _fast_flat(*arrays: Any) -> tuple[list[Any], tuple[int, ...], int] | None:
    """The inputs (of one shape, or 0-d) flattened for chunking, the shape and size; None if small.

    A 0-d input stays 0-d (it broadcasts against every chunk); a C-contiguous one is a flat view.
    """
    shape: tuple[int, ...] = ()
    for a in arrays:
        if a.ndim:
            shape = a.shape
            break
    n = math.prod(shape)
    if n < _FAST_MIN_SIZE:
        return None
    return [a.reshape(-1) if a.ndim > 1 else a for a in arrays], shape, n


class _Buffers(threading.local):
    """Per-thread scratch arrays of the fast path, kept between calls."""

    size = 0
    arrays: tuple[Any, ...] = ()

    def get(self, m: int) -> tuple[Any, ...]:
        if self.size < m:
            self.size = m
            self.arrays = (np.empty(m), np.empty(m, dtype=np.intp), np.empty(m), np.empty(m),
                           np.empty(m, dtype=bool))
        if m == self.size:
            return self.arrays
        return tuple(a[:m] for a in self.arrays)


_BUFFERS = _Buffers()
_FRAME_BUFFERS = _Buffers()  # an inverse chunk's side, size and price in its linear frame


def _mark_prices_fast(table: _Table, side: Any, q: Any, ep: Any, wb: Any,
                      kind: ContractType = ContractType.LINEAR, size: float = 1.0) -> Any:
    """Mark-basis liquidation prices, tier at the liquidation notional, for large arrays.

    ``side`` is signed here, chunk by chunk; the arrays share one shape or are 0-d. The same
    functions as :func:`_solve` (side, target, root, "no price"), with the tier's constants from
    the bucket lookup; None when the arrays are small or the table has no lookup. Each chunk's
    target is full length, as one input is.

    An inverse ``kind`` solves each chunk in its linear frame (:mod:`core.contracts`: the same
    contracts, side ``-s``, price ``x = S/P``) and maps its prices back in place, in cache. The frame
    price is written into a buffer (:func:`core.contracts.frame_price`); the frame side is not
    materialised: the target takes ``+s*WB'`` (``flip``) and the lookup is read at ``-u``
    (:meth:`_BucketLookup.mirror`), the same floats as with ``-s`` (tests/core/test_inverse.py
    checks them against the linear-frame twin, bit for bit).
    """
    inverse = kind is not _LINEAR_CONTRACT
    flat = _fast_flat(side, q, ep, wb)
    look = table.lookup(mirrored=inverse) if flat is not None else None
    if flat is None or look is None:
        return None
    (side_f, q_f, ep_f, wb_f), shape, n = flat
    u, bucket, s_cum, one_minus, marked = _BUFFERS.get(min(n, _CHUNK))
    x_buf = _FRAME_BUFFERS.get(min(n, _CHUNK))[0] if inverse else None
    out = np.empty(n)
    for i in range(0, n, _CHUNK):
        if n <= _CHUNK:  # one chunk: the arrays themselves
            side_i, qi, ei, wi, out_i = side_f, q_f, ep_f, wb_f, out
        else:
            e = i + _CHUNK
            m = min(_CHUNK, n - i)
            if m < len(u):
                u, bucket, s_cum, one_minus, marked = u[:m], bucket[:m], s_cum[:m], one_minus[:m], marked[:m]
                x_buf = None if x_buf is None else x_buf[:m]
            side_i, qi, ei, wi = (a[i:e] if a.ndim else a for a in (side_f, q_f, ep_f, wb_f))
            out_i = out[i:e]
        s = _unit_side(side_i)
        if x_buf is not None:  # inverse: the frame's entry price x_e = S/EP (its side: flip below)
            ei = frame_price(kind, size, ei, out=x_buf if ei.ndim else np.empty(()))
        t, _ = _at_liquidation(table, s, qi, ei, wi, None, out=out_i, flip=inverse)
        np.multiply(s, t, out=u)  # u = s*T, whose bits the lookup reads (mirrored for inverse)
        _priced(_mark_root(qi, t, *look.lookup(u, bucket, s_cum, one_minus, marked)), ei, _into)
        if inverse:
            frame_price(kind, size, out_i, out=out_i)
    return out.reshape(shape)

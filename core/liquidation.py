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

from typing import Any

import numpy as np
import numpy.typing as npt

from core.margin import _out, side_sign
from core.profiles import FeeModel, MMBasis
from core.tiers import TierTable

ArrayLike = npt.ArrayLike


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
    return _out(np.where(bp > 0, bp, np.nan))


def close_fee(*, qty: ArrayLike, bankruptcy: ArrayLike, taker_fee: float) -> Any:
    """Estimated fee to close at the bankruptcy price: ``f * q * BP``."""
    return _out(taker_fee * np.asarray(qty, dtype=float) * np.asarray(bankruptcy, dtype=float))


def _mark_basis_tier(tiers: TierTable, s: Any, target: Any) -> Any:
    """Tier index whose notional range holds the liquidation notional (see module notes)."""
    n = len(tiers)
    if n == 1:
        return np.zeros(np.shape(target), dtype=np.intp)
    k_long = np.searchsorted(tiers._key_long, target, side="right") - 1
    k_short = np.searchsorted(tiers._key_short, target, side="right") - 1
    return np.clip(np.where(s > 0, k_long, k_short), 0, n - 1)


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
                      tier_at_liquidation: bool = True) -> Any:
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
        reduced by the fee to close at the bankruptcy price).
    taker_fee : taker fee rate.
    tier_at_liquidation : choose the tier at the liquidation notional (True) or at entry (False).

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
    if fm is FeeModel.TAKER_IN_MMR:
        tiers = tiers.with_mmr_offset(taker_fee)
    elif fm is FeeModel.CLOSE_FEE:
        bp = (q * ep - s * wb) / (q * (1.0 - s * taker_fee))
        wb = wb - taker_fee * q * bp
    basis = MMBasis(mm_basis)
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
    return _out(np.where(lp > 0, lp, np.nan))

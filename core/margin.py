"""Broadcasting margin arithmetic: notional, uPnL, initial and maintenance margin, margin ratio.

Every function accepts scalars or numpy arrays (broadcast together) and returns a float for scalar
input and an array otherwise, in the manner of numpy-financial. ``side`` is +1 for long and -1 for
short. Amounts are in the contract's quote currency (USDT, USDC).
"""
from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core.errors import InvalidInputError
from core.profiles import MMBasis, Profile
from core.tiers import TierTable

ArrayLike = npt.ArrayLike


def _out(x: Any) -> Any:
    """A float for 0-d results, the array otherwise."""
    a = np.asarray(x)
    return float(a) if a.ndim == 0 else a


_SIDE_WORDS: Final = {"long": 1.0, "buy": 1.0, "short": -1.0, "sell": -1.0}


def side_sign(side: Any) -> Any:
    """+1/-1 from a Side, a string "long"/"short" ("buy"/"sell"), a number, or an array of them.

    An unknown word is refused (a typo must not turn a long into a short); numbers give their sign.
    """
    if isinstance(side, str):
        try:
            return _SIDE_WORDS[side.strip().lower()]
        except KeyError:
            raise InvalidInputError("side", f"expected 'long' or 'short', got {side!r}") from None
    if hasattr(side, "sign") and not isinstance(side, np.ndarray):
        return float(side.sign)
    return np.sign(np.asarray(side, dtype=float))


def notional(qty: ArrayLike, price: ArrayLike) -> Any:
    """Position value ``qty * price``.

    >>> notional(5, 68_000)
    340000.0
    """
    return _out(np.multiply(qty, price, dtype=float))


def unrealized_pnl(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, mark: ArrayLike) -> Any:
    """``s * q * (mark - entry)``.

    >>> unrealized_pnl(side=1, qty=5, entry=68_000, mark=61_880)
    -30600.0
    """
    s = side_sign(side)
    return _out(s * np.asarray(qty, dtype=float) * (np.asarray(mark, dtype=float) - np.asarray(entry, dtype=float)))


def initial_margin(*, qty: ArrayLike, entry: ArrayLike, leverage: ArrayLike) -> Any:
    """``q * EP / L``: the margin to open the position, before fees.

    >>> initial_margin(qty=5, entry=68_000, leverage=10)
    34000.0
    """
    return _out(np.asarray(qty, dtype=float) * np.asarray(entry, dtype=float) / np.asarray(leverage, dtype=float))


def maintenance_margin(*, qty: ArrayLike, price: ArrayLike, tiers: TierTable,
                       tier_notional: ArrayLike | None = None) -> Any:
    """``max(MMR_k * q * price - cum_k, 0)``: the one formula for maintenance margin.

    The tier ``k`` is chosen at ``tier_notional`` (default ``q * price``). Under the "entry" basis,
    pass the entry price as ``price``; under the "mark" basis, the mark
    (:func:`position_maintenance` makes that choice from a profile). A maintenance margin is never
    negative: where a tier's amount exceeds ``MMR * N`` (only outside the tier's own range, or in a
    custom one-tier contract) it is zero, and :func:`core.liquidation.liquidation_price` follows
    the same floor (the liquidation price is then the bankruptcy price).

    Source: docs/domain.md §2.2 (Binance, "Leverage and Margin of USDⓈ-M Futures",
    https://www.binance.com/en/support/faq/360033162192; the same form for Bybit's and Hyperliquid's
    maintenance deduction).

    >>> from core.tiers import TierTable
    >>> classic = TierTable.from_rows(floor=[0, 50e3, 250e3, 1e6], cap=[50e3, 250e3, 1e6, 5e6],
    ...     max_leverage=[125, 100, 50, 20], mmr=[0.004, 0.005, 0.01, 0.025], cum=[0, 0, 0, 0])
    >>> maintenance_margin(qty=5, price=68_000, tiers=classic)   # the source FAQ: 1 % of 340,000
    3400.0
    """
    q = np.asarray(qty, dtype=float)
    p = np.asarray(price, dtype=float)
    n = q * p
    k = tiers.index(n if tier_notional is None else tier_notional)
    return _out(np.maximum(tiers.mmr[k] * n - tiers.cum[k], 0.0))


def position_maintenance(profile: Profile, symbol: str, *, qty: ArrayLike, entry: ArrayLike,
                         mark: ArrayLike) -> tuple[Any, Any]:
    """Maintenance margin of a position under ``profile``'s rules (before any fee to close), and its tier.

    The profile's ``mm_basis`` says which price the notional is measured at: the entry (fixed while
    the position is unchanged) or the mark (moving with the price); ``taker_in_mmr`` raises every
    rate by the taker fee (:meth:`core.profiles.Profile.effective_tiers`). docs/domain.md §1.

    Returns
    -------
    (mm, tier index), each a float/int for scalar input, arrays otherwise.

    Examples
    --------
    The source FAQ under ``classic`` (entry basis): 1 % of 5 x 68,000 whatever the mark.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> classic = load_profile(exchanges_dir() / "classic.toml")
    >>> position_maintenance(classic, "BTCUSDT", qty=5, entry=68_000, mark=61_000)
    (3400.0, 2)
    """
    tiers = profile.effective_tiers(symbol)
    price = entry if profile.rules.mm_basis is MMBasis.ENTRY else mark
    q = np.asarray(qty, dtype=float)
    p = np.broadcast_to(np.asarray(price, dtype=float), np.broadcast_shapes(np.shape(q), np.shape(mark)))
    mm = maintenance_margin(qty=q, price=p, tiers=tiers)
    k = tiers.index(q * p)
    return (float(mm), int(k)) if np.ndim(mm) == 0 else (mm, k)


def margin_ratio(*, maintenance: ArrayLike, equity: ArrayLike) -> Any:
    """``MM / equity``: 1.0 (100 %) is the liquidation line; +inf when equity is zero or less.

    >>> margin_ratio(maintenance=3_400, equity=34_000)
    0.1
    """
    mm = np.asarray(maintenance, dtype=float)
    eq = np.asarray(equity, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(eq > 0, mm / np.where(eq > 0, eq, 1.0), np.inf)
    return _out(r)


def pnl_at_exit(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, exit_price: ArrayLike) -> Any:
    """Realised PnL closing at ``exit_price`` (before fees); the same formula as uPnL."""
    return unrealized_pnl(side=side, qty=qty, entry=entry, mark=exit_price)


def roe(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, exit_price: ArrayLike, margin: ArrayLike) -> Any:
    """Return on equity: PnL over the margin put up.

    >>> roe(side=1, qty=5, entry=68_000, exit_price=71_400, margin=34_000)   # +5 % move at 10x
    0.5
    """
    pnl = np.asarray(pnl_at_exit(side=side, qty=qty, entry=entry, exit_price=exit_price))
    return _out(pnl / np.asarray(margin, dtype=float))

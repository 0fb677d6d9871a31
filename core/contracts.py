"""Linear and inverse contracts: the one change of coordinates between them (docs/domain.md §7).

A **linear** contract (BTCUSDT) is quoted and settled in the quote currency: a position of q base
units at price P is worth ``q*P`` USDT. An **inverse** contract (Binance COIN-M BTCUSD_PERP, Bybit
BTCUSD, BitMEX XBTUSD) is worth a fixed amount S of the quote currency per contract (100 USD, 1 USD)
and is settled in the coin: C contracts at price P are worth ``C*S/P`` BTC, and a long's PnL is
``C*S*(1/EP - 1/P)`` BTC.

In the coin, an inverse position is **exactly** a linear position of quantity ``Q = C*S``, on the
opposite side, at the price ``x = 1/P``::

    PnL      = s*Q*(1/EP - 1/P)  = (-s)*Q*(x - x_e)
    notional = Q/P               = Q*x
    IM       = Q/(EP*L)          = Q*x_e/L
    MM       = MMR*Q/P - cum     = MMR*Q*x - cum        (mark basis; MMR*Q*x_e - cum on the entry basis)
    fee      = f*Q/BP            = f*Q*x_BP

So every rule of :mod:`core.margin`, :mod:`core.liquidation` and :mod:`core.quote` (tiers by the
notional in coin, the liquidation and bankruptcy solvers, the fee models, isolated and cross, mark
and entry basis) applies unchanged in that **linear frame**, and a price found there maps back by
``P = 1/x``. This module is that mapping, and the only place it is written: every function that
takes a position goes through :func:`linear_frame` (or its parts) and :func:`frame_price` back.

Consequences worth knowing (checked by tests/core/test_inverse.py):

* A linear-frame long with no liquidation price is an inverse **short** fully backed by its
  collateral (at most 1x): it has none either. An inverse **long** is a linear-frame short, which
  always has one (x can grow without bound, i.e. P can fall towards 0).
* Solving the linear-frame mark-basis equation for a long inverse gives DOMAIN's closed form
  ``P = C*S*(1 + MMR) / (WB + cum + C*S/EP)``.
* Rounding a price to the tick is done in P, after mapping back; the side flips on the way, so a
  price that must be rounded "away from the mark" for a long inverse is rounded like a linear long's.

Every function broadcasts: plain floats give floats, arrays give arrays.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

import numpy as np


class ContractType(StrEnum):
    """How a contract is settled: in the quote currency (linear) or in the coin (inverse)."""

    LINEAR = "linear"
    INVERSE = "inverse"


_LINEAR: Final = ContractType.LINEAR
_INVERSE: Final = ContractType.INVERSE


def contract_type(value: Any) -> ContractType:
    """A :class:`ContractType` from itself or its word ("linear", "inverse")."""
    return value if isinstance(value, ContractType) else ContractType(value)


def _reciprocal(x: Any) -> Any:
    """``1/x`` for a float (``inf`` at 0, as numpy) or an array."""
    if isinstance(x, float | int) and not isinstance(x, bool):
        return 1.0 / x if x else (np.inf if x == 0.0 else np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(1.0, x)


def frame_price(kind: ContractType, price: Any) -> Any:
    """The price in the linear frame: ``x = 1/P`` for an inverse contract, ``P`` itself for a linear one.

    The mapping is its own inverse: ``frame_price(kind, frame_price(kind, P)) == P``, so the same
    function maps a price found in the frame (a liquidation price) back. NaN (no price) stays NaN.

    >>> frame_price(ContractType.INVERSE, 40_000.0), frame_price(ContractType.INVERSE, 2.5e-05)
    (2.5e-05, 40000.0)
    >>> frame_price(ContractType.LINEAR, 68_000.0)
    68000.0
    """
    return price if kind is _LINEAR else _reciprocal(price)


def frame_qty(kind: ContractType, size: float, qty: Any) -> Any:
    """The quantity in the linear frame: ``Q = C*S`` (contracts times their quote value) for an
    inverse contract; a linear quantity is already in base units and stays as it is.

    >>> frame_qty(ContractType.INVERSE, 100.0, 1_000.0), frame_qty(ContractType.LINEAR, 1.0, 5.0)
    (100000.0, 5.0)
    """
    return qty if kind is _LINEAR else qty * size


def frame_side(kind: ContractType, side: Any) -> Any:
    """The side in the linear frame: an inverse long (+1) is a frame short (-1), and back."""
    return side if kind is _LINEAR else -side


def linear_frame(kind: ContractType, size: float, side: Any, qty: Any, price: Any) -> tuple[Any, Any, Any]:
    """``(side, qty, price)`` of a position as the linear position the rules are written for.

    ``side`` is +1/-1 (or an array of them), ``qty`` the position's own size (base units for a
    linear contract, contracts for an inverse one), ``price`` any price of the position (its entry,
    a mark, an exit). Linear: unchanged. Inverse: ``(-side, qty*size, 1/price)``.

    Examples
    --------
    Binance COIN-M, 100,000 BTCUSD_PERP contracts of 100 USD, long from 45,000: a linear short of
    10,000,000 at 1/45,000, worth 222.22 BTC.

    >>> s, q, x = linear_frame(ContractType.INVERSE, 100.0, 1.0, 100_000.0, 45_000.0)
    >>> s, q, round(q * x, 2)
    (-1.0, 10000000.0, 222.22)
    """
    if kind is _LINEAR:
        return side, qty, price
    return -side, qty * size, _reciprocal(price)

"""Linear and inverse contracts: the one change of coordinates between them (docs/domain.md §7).

A **linear** contract (BTCUSDT) is quoted and settled in the quote currency: a position of q base
units at price P is worth ``q*P`` USDT. An **inverse** contract (Binance COIN-M BTCUSD_PERP, Bybit
BTCUSD, BitMEX XBTUSD) is worth a fixed amount S of the quote currency per contract (100 USD, 1 USD)
and is settled in the coin: C contracts at price P are worth ``C*S/P`` BTC, and a long's PnL is
``C*S*(1/EP - 1/P)`` BTC.

In the coin, an inverse position is **exactly** a linear position of the same C contracts, on the
opposite side, at the price ``x = S/P`` (the coin one contract is worth)::

    PnL      = s*C*S*(1/EP - 1/P)  = (-s)*C*(x - x_e)
    notional = C*S/P               = C*x
    IM       = C*S/(EP*L)          = C*x_e/L
    MM       = MMR*C*S/P - cum     = MMR*C*x - cum        (mark basis; MMR*C*x_e - cum on the entry basis)
    fee      = f*C*S/BP            = f*C*x_BP

(equivalently C*S units at 1/P; the contracts are kept as the quantity, which spares the solver a
multiplication per position). So every rule of :mod:`core.margin`, :mod:`core.liquidation` and
:mod:`core.quote` (tiers by the notional in coin, the liquidation and bankruptcy solvers, the fee
models, isolated and cross, mark and entry basis) applies unchanged in that **linear frame**, and a
price found there maps back by ``P = S/x``. This module is that mapping, and the only place it is
written: every function that takes a position goes through :func:`linear_frame` (or
:func:`frame_price`) and :func:`frame_price` back.

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


def _reciprocal(x: Any, size: float) -> Any:
    """``size/x`` for a float (``inf`` at 0, as numpy) or an array."""
    if isinstance(x, float | int) and not isinstance(x, bool):
        return size / x if x else (np.inf if x == 0.0 else np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(size, x)


def frame_price(kind: ContractType, size: float, price: Any, out: Any = None) -> Any:
    """The price in the linear frame: ``x = S/P`` (the coin value of one contract of ``size`` S) for
    an inverse contract, ``P`` itself for a linear one.

    The mapping is its own inverse: ``frame_price(kind, S, frame_price(kind, S, P)) == P``, so the
    same function maps a price found in the frame (a liquidation price) back. NaN (no price) stays
    NaN. ``out`` (an array): the result is written there (the liquidation solver maps its chunks in
    place, under its own ``np.errstate``).

    >>> frame_price(ContractType.INVERSE, 100.0, 40_000.0), frame_price(ContractType.INVERSE, 100.0, 0.0025)
    (0.0025, 40000.0)
    >>> frame_price(ContractType.LINEAR, 1.0, 68_000.0)
    68000.0
    """
    if out is not None:  # under the caller's np.errstate (the solver's: division by zero is inf)
        if kind is not _LINEAR:
            np.divide(size, price, out=out)
        elif out is not price:
            np.copyto(out, price)
        return out
    return price if kind is _LINEAR else _reciprocal(price, size)


def linear_frame(kind: ContractType, size: float, side: Any, qty: Any, price: Any) -> tuple[Any, Any, Any]:
    """``(side, qty, price)`` of a position as the linear position the rules are written for.

    ``side`` is +1/-1 (or an array of them), ``qty`` the position's own size (base units for a
    linear contract, contracts for an inverse one), ``price`` any price of the position (its entry,
    a mark, an exit). Linear: unchanged. Inverse: ``(-side, qty, size/price)``.

    Examples
    --------
    Binance COIN-M, 100,000 BTCUSD_PERP contracts of 100 USD, long from 45,000: a linear short of
    100,000 contracts at 100/45,000 BTC each, worth 222.22 BTC.

    >>> s, q, x = linear_frame(ContractType.INVERSE, 100.0, 1.0, 100_000.0, 45_000.0)
    >>> s, q, round(q * x, 2)
    (-1.0, 100000.0, 222.22)
    """
    if kind is _LINEAR:
        return side, qty, price
    return -side, qty, _reciprocal(price, size)

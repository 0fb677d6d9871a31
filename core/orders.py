"""A trader's orders on a position: when a stop-loss or take-profit fires, and what a close realises.

Both are plain functions of prices, with no ledger, no book and no simulator state, so that the
liquidation simulator (:mod:`core.simulate`) and the desktop window's live feed can share them.
The rules (docs/domain.md §3.2): stop orders watch the **last** traded price, not the mark; the realised
PnL of a close is the engine's uPnL formula at the fill price (:func:`core.margin.unrealized_pnl`),
and a fee is charged on the filled notional.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from core.errors import InvalidInputError
from core.fees import trade_fee
from core.margin import contract_pnl, settle_notional, unrealized_pnl
from core.model import Side
from core.profiles import Contract

ORDER_KINDS: Final = ("stop_loss", "take_profit")


def _sign(side: Any) -> int:
    s = side.sign if isinstance(side, Side) else int(np.sign(side))
    if s not in (1, -1):
        raise InvalidInputError("side", f"expected long/short or +1/-1, got {side!r}")
    return s


def stop_hit(kind: str, side: Any, trigger_price: float, last_prices: Any) -> int | None:
    """Index of the first last price at which a stop-loss or take-profit order fires, or None.

    Parameters
    ----------
    kind : ``"stop_loss"`` or ``"take_profit"`` (a :class:`core.simspec.ActionKind` works too).
    side : the position's side (``Side`` or +1 long / -1 short).
    trigger_price : the order's trigger, quote currency.
    last_prices : the last traded prices to scan, in time order (array-like).

    Notes
    -----
    A long's stop-loss and a short's take-profit fire when ``last <= trigger``; a long's
    take-profit and a short's stop-loss when ``last >= trigger``. Touching the trigger fires it.

    Examples
    --------
    A long's stop at 62,000 against a wick in the last price (docs/domain.md §3.2): it fires at the
    third price, 60,000, the first at or below 62,000.

    >>> stop_hit("stop_loss", Side.LONG, 62_000, [68_000, 64_000, 60_000, 68_000])
    2
    >>> stop_hit("take_profit", Side.SHORT, 66_000, [68_000, 67_000]) is None
    True
    """
    if kind not in ORDER_KINDS:
        raise InvalidInputError("kind", f"expected one of {', '.join(ORDER_KINDS)}, got {kind!r}")
    last = np.asarray(last_prices, dtype=float)
    below = (kind == "stop_loss") == (_sign(side) > 0)
    hit = np.flatnonzero(last <= trigger_price if below else last >= trigger_price)
    return int(hit[0]) if hit.size else None


@dataclass(frozen=True, slots=True)
class Close:
    """A close of ``qty`` at ``price``: the realised PnL and the fee on the filled notional."""

    qty: float
    price: float
    realized_pnl: float
    fee: float


def close_at(*, side: Any, qty: float, entry: float, price: float, fee_rate: float,
             contract: Contract | None = None) -> Close:
    """Close ``qty`` of a position opened at ``entry`` at the fill ``price``.

    Notes
    -----
    ::

        realised PnL = s * qty * (price - entry)          (core.margin.unrealized_pnl at the fill)
        fee          = fee_rate * qty * price             (core.fees.trade_fee: taker or liquidation fee)

    On an inverse ``contract`` (qty in contracts) both are in the coin, through the linear frame
    (docs/domain.md §7): ``s * C * S * (1/entry - 1/price)`` and ``fee_rate * C * S / price``
    (:func:`core.margin.contract_pnl`, :func:`core.margin.settle_notional`). ``contract`` None, or a
    linear one, is the linear rule above.

    Who pays whom, and whether the fee is capped by what is left in an account, is the caller's
    (the simulator charges a fee never more than the collateral left).
    Source: docs/domain.md §4.2 (the fee on the notional of the fill, Binance's and Bybit's
    liquidation and taker fees).

    Examples
    --------
    The source FAQ's 5 BTC long from 68,000 sold at 61,500 with a 0.3 % fee: PnL 5 x -6,500 =
    -32,500, fee 0.003 x 5 x 61,500 = 922.50.

    >>> close_at(side=Side.LONG, qty=5, entry=68_000, price=61_500, fee_rate=0.003)
    Close(qty=5, price=61500, realized_pnl=-32500.0, fee=922.5)
    """
    if contract is not None and contract.is_inverse:
        pnl = float(contract_pnl(contract, side=_sign(side), qty=qty, entry=entry, exit_price=price))
        return Close(qty=qty, price=price, realized_pnl=pnl,
                     fee=fee_rate * float(settle_notional(contract, qty, price)))
    pnl = float(unrealized_pnl(side=_sign(side), qty=qty, entry=entry, mark=price))
    return Close(qty=qty, price=price, realized_pnl=pnl, fee=float(trade_fee(qty=qty, price=price, rate=fee_rate)))

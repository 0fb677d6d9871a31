"""A linear order-book model for liquidation and market orders: depth, spread, slippage, IOC.

The book around the reference price ``P`` (the last traded price) holds ``depth`` base units per
1 % of price, starting ``half_spread`` away from ``P``. Selling ``x`` units walks down the bids:

    worst price  = P * (1 - half_spread - u),    u = x / (100 * depth)
    average fill = P * (1 - half_spread - u/2)

(buying mirrors it upwards). The liquidation order is immediate-or-cancel with a limit
``max_slippage`` away from ``P``: beyond it the rest of the order is not filled this tick.
``depth = inf`` is a bottomless book: everything fills at ``P * (1 -/+ half_spread)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from core.validate import number


@dataclass(frozen=True, slots=True)
class Fill:
    """Result of one order: ``qty`` filled (<= asked) at the average price ``price``."""

    qty: float
    price: float
    asked: float

    @property
    def complete(self) -> bool:
        return self.qty >= self.asked * (1 - 1e-12)


@dataclass(frozen=True, slots=True)
class BookModel:
    """Depth in base units per 1 % of price, the half spread and the IOC slippage limit (fractions).

    Examples
    --------
    10 BTC per 1 %, selling 5 BTC into a 61,500 market: u = 5 / 1,000 = 0.5 %, average
    61,500 * (1 - 0.0025) = 61,346.25.

    >>> BookModel(depth=10.0).fill(side=-1, qty=5.0, price=61_500.0).price
    61346.25
    """

    depth: float = math.inf
    half_spread: float = 0.0
    max_slippage: float = 0.05

    def __post_init__(self) -> None:
        if not (isinstance(self.depth, float) and math.isinf(self.depth) and self.depth > 0):
            number("book.depth", self.depth, lo=0, lo_open=True)  # or inf: a bottomless book
        number("book.half_spread", self.half_spread, lo=0, hi=0.5, hi_open=True)
        number("book.max_slippage", self.max_slippage, lo=0, hi=1, lo_open=True, hi_open=True)

    def fill(self, *, side: int, qty: float, price: float) -> Fill:
        """Fill a market order: ``side`` +1 buys, -1 sells ``qty`` units around ``price``.

        The IOC limit caps the walk at ``max_slippage`` beyond ``price`` (the spread counts).
        """
        if qty <= 0:
            return Fill(0.0, price, max(qty, 0.0))
        room = self.max_slippage - self.half_spread  # how far the walk may go
        if room <= 0:
            return Fill(0.0, price, qty)
        if math.isinf(self.depth):
            return Fill(qty, price * (1 + side * self.half_spread), qty)
        u = qty / (100.0 * self.depth)
        filled = qty
        if u > room:
            u = room
            filled = room * 100.0 * self.depth
        return Fill(filled, price * (1 + side * (self.half_spread + u / 2)), qty)

    def price_for(self, *, side: int, qty: float, price: float) -> float:
        """Average price ignoring the IOC limit (what the whole quantity would cost)."""
        if math.isinf(self.depth):
            return price * (1 + side * self.half_spread)
        return price * (1 + side * (self.half_spread + qty / (200.0 * self.depth)))

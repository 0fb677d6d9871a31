"""Closed sets and frozen records: sides, margin modes, positions and accounts."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import NewType

from core.errors import InvalidInputError, InvalidPositionError
from core.validate import MAX_AMOUNT, MAX_PRICE, MAX_QTY, number

Symbol = NewType("Symbol", str)


class Side(StrEnum):
    """Long or short. ``sign`` is +1 / -1 so that long and short share one formula."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG


def _positive(field_name: str, value: float, *, hi: float, lo: float = 0.0, allow_zero: bool = False) -> float:
    try:
        return number(field_name, value, lo=lo, lo_open=lo == 0.0 and not allow_zero, hi=hi)
    except InvalidInputError as exc:  # the position-level error type, for callers that catch it
        raise InvalidPositionError(exc.field, exc.reason) from None


class MarginMode(StrEnum):
    """Isolated: the position risks only its own margin. Cross: it shares the account's wallet."""

    ISOLATED = "isolated"
    CROSS = "cross"


@dataclass(frozen=True, slots=True)
class Position:
    """One perpetual position.

    ``qty_base`` is the absolute size in base units (5 means 5 BTC); the direction is ``side``.
    ``margin_usd`` is the isolated margin assigned to the position (ignored in cross mode, where the
    account's wallet backs every cross position). ``None`` means "the opening requirement"
    (:func:`core.quote.opening_requirement`: ``q * EP / L``, plus the fee to close where the
    profile's rules add it).
    """

    symbol: str
    side: Side
    qty_base: float
    entry_price: float
    leverage: float
    mode: MarginMode = MarginMode.ISOLATED
    margin_usd: float | None = None

    def __post_init__(self) -> None:
        # ints from JSON or a form become floats, so every derived number is a float too
        object.__setattr__(self, "qty_base", _positive("qty", self.qty_base, hi=MAX_QTY))
        object.__setattr__(self, "entry_price", _positive("entry", self.entry_price, hi=MAX_PRICE))
        object.__setattr__(self, "leverage", _positive("leverage", self.leverage, lo=1.0, hi=1000.0))
        if self.margin_usd is not None:
            object.__setattr__(self, "margin_usd", _positive("margin", self.margin_usd, hi=MAX_AMOUNT))
        if not isinstance(self.side, Side):
            object.__setattr__(self, "side", Side(self.side))
        if not isinstance(self.mode, MarginMode):
            object.__setattr__(self, "mode", MarginMode(self.mode))

    @property
    def sign(self) -> int:
        return self.side.sign

    @property
    def entry_notional(self) -> float:
        return self.qty_base * self.entry_price

    def with_(self, **changes: object) -> Position:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Account:
    """A trader's account on one exchange profile.

    ``wallet_usd`` is the cross collateral (isolated positions carry their margin separately, already
    taken out of the wallet). ``marks`` maps symbol to the mark price; a symbol without a mark is
    valued at its entry price.
    """

    profile_id: str
    wallet_usd: float = 0.0
    positions: tuple[Position, ...] = ()
    marks: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "wallet_usd", _positive("wallet", self.wallet_usd, allow_zero=True, hi=MAX_AMOUNT))
        object.__setattr__(self, "positions", tuple(self.positions))
        if isinstance(self.marks, dict):
            object.__setattr__(self, "marks", tuple(sorted(self.marks.items())))
        object.__setattr__(self, "marks", tuple((sym, _positive(f"marks.{sym}", m, hi=MAX_PRICE))
                                                for sym, m in self.marks))

    def mark_of(self, position: Position) -> float:
        for sym, mark in self.marks:
            if sym == position.symbol:
                return mark
        return position.entry_price

    def with_mark(self, symbol: str, mark: float) -> Account:
        marks = dict(self.marks)
        marks[symbol] = mark
        return replace(self, marks=tuple(sorted(marks.items())))

    def with_(self, **changes: object) -> Account:
        return replace(self, **changes)  # type: ignore[arg-type]

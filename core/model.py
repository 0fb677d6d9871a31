"""Closed sets and frozen records: sides, margin modes, position modes, positions and accounts."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final, NewType

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


class Liquidity(StrEnum):
    """How an order meets the book: it rests there (maker) or takes from it (taker); it sets the fee rate."""

    MAKER = "maker"
    TAKER = "taker"


#: Bounds of a fee rate (docs/domain.md §9.4): a maker rate may be a rebate, down to -1 %.
MAKER_FEE_RANGE: Final = (-0.01, 0.1)
TAKER_FEE_RANGE: Final = (0.0, 0.1)


@dataclass(frozen=True, slots=True)
class FeeRates:
    """An account's own trading fees: its maker and taker rates (a VIP tier; None keeps the
    profile's) and whether it opens and closes with maker (limit) or taker (market) orders.

    :func:`core.fees.with_fee_rates` puts the rates into a profile's rules, so every rule that
    reads a fee rate uses the account's; :func:`core.fees.order_fee_rates` picks the open and close
    rates. docs/domain.md §9.4.
    """

    maker: float | None = None
    taker: float | None = None
    open: Liquidity = Liquidity.TAKER
    close: Liquidity = Liquidity.TAKER

    def __post_init__(self) -> None:
        if self.maker is not None:
            lo, hi = MAKER_FEE_RANGE
            object.__setattr__(self, "maker", number("maker_fee", self.maker, lo=lo, hi=hi))
        if self.taker is not None:
            lo, hi = TAKER_FEE_RANGE
            object.__setattr__(self, "taker", number("taker_fee", self.taker, lo=lo, hi=hi))
        for name in ("open", "close"):
            value = getattr(self, name)
            if not isinstance(value, Liquidity):
                try:
                    object.__setattr__(self, name, Liquidity(value))
                except ValueError:
                    raise InvalidInputError(f"fees.{name}", f"expected 'maker' or 'taker', got {value!r}") from None
class PositionMode(StrEnum):
    """One-way: one position per symbol. Hedge: at most one long and one short per symbol
    (docs/domain.md §8)."""

    ONE_WAY = "one_way"
    HEDGE = "hedge"


@dataclass(frozen=True, slots=True)
class Position:
    """One perpetual position.

    ``qty_base`` is the absolute size in the contract's own unit: base units for a linear contract
    (5 means 5 BTC), **contracts** for an inverse one (docs/domain.md §7); the direction is ``side``.
    ``margin_usd`` is the isolated margin assigned to the position, in the contract's settle asset
    (USDT, or BTC for an inverse BTC contract); it is ignored in cross mode, where the account's
    wallet backs every cross position. ``None`` means "the opening requirement"
    (:func:`core.quote.opening_requirement`: ``q * EP / L``, plus the fee to close where the
    profile's rules add it). ``funding_paid`` is the funding the position has paid since it was
    opened (negative: received), which its break-even and net PnL count (docs/domain.md §9.5);
    where it was booked is already in ``margin_usd`` or the wallet.
    """

    symbol: str
    side: Side
    qty_base: float
    entry_price: float
    leverage: float
    mode: MarginMode = MarginMode.ISOLATED
    margin_usd: float | None = None
    funding_paid: float = 0.0

    def __post_init__(self) -> None:
        # ints from JSON or a form become floats, so every derived number is a float too
        object.__setattr__(self, "qty_base", _positive("qty", self.qty_base, hi=MAX_QTY))
        object.__setattr__(self, "entry_price", _positive("entry", self.entry_price, hi=MAX_PRICE))
        object.__setattr__(self, "leverage", _positive("leverage", self.leverage, lo=1.0, hi=1000.0))
        if self.margin_usd is not None:
            object.__setattr__(self, "margin_usd", _positive("margin", self.margin_usd, hi=MAX_AMOUNT))
        if self.funding_paid != 0.0:
            object.__setattr__(self, "funding_paid", _positive("funding_paid", self.funding_paid, lo=-MAX_AMOUNT,
                                                               hi=MAX_AMOUNT))
        if not isinstance(self.side, Side):
            object.__setattr__(self, "side", Side(self.side))
        if not isinstance(self.mode, MarginMode):
            object.__setattr__(self, "mode", MarginMode(self.mode))

    @property
    def sign(self) -> int:
        return self.side.sign

    @property
    def entry_notional(self) -> float:
        """``qty * entry`` -- a linear contract's notional only; for any contract use
        :func:`core.quote.entry_notional` (in the settle asset)."""
        return self.qty_base * self.entry_price

    def with_(self, **changes: object) -> Position:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Account:
    """A trader's account on one exchange profile.

    ``wallet_usd`` is the cross collateral (isolated positions carry their margin separately, already
    taken out of the wallet), in the settle asset of the account's contracts. ``marks`` maps symbol
    to the mark price; a symbol without a mark is valued at its entry price. ``position_mode`` says
    how many positions a symbol may have (:func:`check_position_mode`, which
    :func:`core.quote.quote_account` applies). ``fees`` are the account's own fee rates and order
    types (:class:`FeeRates`; by default the profile's rates, market orders).
    """

    profile_id: str
    wallet_usd: float = 0.0
    positions: tuple[Position, ...] = ()
    marks: tuple[tuple[str, float], ...] = field(default=())
    position_mode: PositionMode = PositionMode.ONE_WAY
    fees: FeeRates = field(default_factory=FeeRates)

    def __post_init__(self) -> None:
        if not isinstance(self.position_mode, PositionMode):
            try:
                object.__setattr__(self, "position_mode", PositionMode(self.position_mode))
            except ValueError:
                raise InvalidInputError("position_mode", f"expected 'one_way' or 'hedge', "
                                                         f"got {self.position_mode!r}") from None
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


def check_position_mode(account: Account) -> None:
    """Refuse positions the account's mode cannot hold (docs/domain.md §8).

    One-way: one position per symbol. Hedge: at most one long and one short per symbol.

    Raises
    ------
    InvalidInputError
        field ``position_mode``, naming the symbol and both positions.

    Examples
    --------
    >>> pair = (Position("BTCUSDT", Side.LONG, 4, 60_000, 10), Position("BTCUSDT", Side.SHORT, 2, 61_000, 10))
    >>> check_position_mode(Account("binance", 0.0, pair, position_mode="hedge"))
    >>> check_position_mode(Account("binance", 0.0, pair))
    Traceback (most recent call last):
    ...
    core.errors.InvalidInputError: position_mode: one-way mode holds one position per symbol: positions[0] (BTCUSDT long) and positions[1] (BTCUSDT short) are both on BTCUSDT; use hedge mode for a long and a short, or net them into one position
    """
    first: dict[tuple[str, str], int] = {}
    hedge = account.position_mode is PositionMode.HEDGE
    for i, p in enumerate(account.positions):
        key = (p.symbol, p.side.value if hedge else "")
        j = first.setdefault(key, i)
        if j == i:
            continue
        a, b = account.positions[j], p
        names = (f"positions[{j}] ({a.symbol} {a.side.value}) and positions[{i}] ({b.symbol} {b.side.value})")
        if hedge:
            raise InvalidInputError("position_mode", f"hedge mode holds at most one long and one short per "
                                                     f"symbol: {names} are both {p.side.value}; merge them "
                                                     "into one position")
        raise InvalidInputError("position_mode", f"one-way mode holds one position per symbol: {names} are "
                                                 f"both on {p.symbol}; use hedge mode for a long and a short, "
                                                 "or net them into one position")


def infer_position_mode(positions: Sequence[Position]) -> PositionMode:
    """The mode of a file written before ``position_mode`` existed: ``hedge`` when some symbol holds a
    long and a short, else ``one_way``. Two positions on the same side of one symbol fit neither:
    refused (field ``position_mode``, naming both positions: :func:`check_position_mode`).

    >>> long, short = Position("BTCUSDT", Side.LONG, 1, 68_000, 50), Position("BTCUSDT", Side.SHORT, 1, 68_000, 50)
    >>> infer_position_mode((long, short)).value, infer_position_mode((long,)).value
    ('hedge', 'one_way')
    """
    sides: dict[str, set[Side]] = {}
    for p in positions:
        sides.setdefault(p.symbol, set()).add(p.side)
    mode = PositionMode.HEDGE if any(len(v) > 1 for v in sides.values()) else PositionMode.ONE_WAY
    check_position_mode(Account("", 0.0, tuple(positions), position_mode=mode))
    return mode

"""The liquidation waterfall, stage by stage, over one run's mutable state (docs/domain.md §4).

:class:`RunState` holds what changes while a run plays: the ledger, the trader's positions and
their orders, each scope's cooldown, the counterparties' remaining sizes, the events and records.
Each stage is a function of that state at one tick ``j``; :func:`liquidate` runs them in the order
``docs/simulator.md`` describes:

1. :func:`margin_check` -- is the scope liquidatable at the mark (the engine's test), or, during a
   cooldown, below the backstop line?
2. :func:`trigger` and :func:`cancel_orders` -- ``liquidation_triggered``, ``orders_cancelled``.
3. :func:`fill_in_book` -- a market order against the book model, with its fee.
4. :func:`partial_liquidation` -- :func:`step_down` (tier step-down) or :func:`partial_fraction`
   (a fraction, then a cooldown).
5. Settlement against the bankruptcy price: :func:`settle_close` decides, for every close, how
   much the book may take given the insurance fund (the rest goes to ADL), and
   :func:`surplus_to_fund` / :func:`pay_shortfall` move what is left of, or missing from, the
   collateral (``insurance_fund_inflow`` / ``insurance_fund_payout``).
6. :func:`backstop` -- the liquidator vault takes over (Hyperliquid).
7. :func:`deleverage` -- auto-deleveraging at the bankruptcy price against ranked counterparties.

Between liquidations, :func:`pay_funding` books each funding payment between the trader's
collateral and the ``funding`` party (``funding_payment``, docs/domain.md §9.2); the driver
(:class:`core.simulate._Driver`) calls it at the funding times, before the margin check of the tick.

The stages call :mod:`core.quote`, :mod:`core.margin` and :mod:`core.liquidation` for every margin
number and never re-derive a formula; the trader's orders and closes use :mod:`core.orders`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from core.book import BookModel
from core.funding import (
    available_balance,
    cross_commitment,
    funding_payment,
    funding_split,
    position_value,
)
from core.ledger import Ledger
from core.liquidation import bankruptcy_price
from core.margin import (
    average_entry_price,
    contract_frame,
    contract_pnl,
    settle_notional,
    unrealized_pnl,
)
from core.model import Account, MarginMode, Position, Side
from core.orders import Close, close_at
from core.prices import PricePath
from core.profiles import Contract, MMBasis, PartialLiquidation, Profile, round_to_lot
from core.quote import AccountQuote, PositionQuote, position_margin, quote_account
from core.simevents import (
    FEES,
    FUND,
    FUNDING,
    MARKET,
    SPOT,
    VAULT,
    WALLET,
    Event,
    EventKind,
    LiquidationRecord,
)
from core.simspec import ActionKind, Counterparty

# ----------------------------------------------------------------------------- rank and naming


def adl_score(*, side: Any, qty: Any, entry: Any, mark: Any, margin: Any) -> Any:
    """Auto-deleveraging rank: higher is closed first (BitMEX / MEXC / Bybit form, docs/domain.md §4.6).

    Notes
    -----
    ::

        PnL%           = uPnL / margin = s * q * (mark - entry) / margin
        eff. leverage  = |mark value| / |mark value - bankruptcy value| = mark / |mark - BP|
        score          = PnL% * eff. leverage    if PnL% > 0
                         PnL% / eff. leverage    otherwise

    with ``BP = entry - s * margin / q`` the counterparty's own bankruptcy price (engine function).

    Examples
    --------
    A short of 1 BTC from 70,000 with 7,000 margin, mark 60,000: PnL% = 10,000 / 7,000 = 1.4286,
    BP = 77,000, eff. leverage = 60,000 / 17,000 = 3.5294, score = 5.042.

    >>> round(adl_score(side=-1, qty=1, entry=70_000, mark=60_000, margin=7_000), 3)
    5.042
    """
    s = np.sign(np.asarray(side, dtype=float))
    q = np.asarray(qty, dtype=float)
    m = np.asarray(mark, dtype=float)
    mg = np.asarray(margin, dtype=float)
    pnl_pct = np.asarray(unrealized_pnl(side=s, qty=q, entry=entry, mark=m)) / mg
    bp = np.asarray(bankruptcy_price(side=s, qty=q, entry=entry, wallet=mg))
    bp = np.where(np.isnan(bp), 0.0, bp)  # a long with no bankruptcy price: mark value is all equity
    with np.errstate(divide="ignore", invalid="ignore"):
        lev = np.abs(m) / np.abs(m - bp)
        out = np.where(pnl_pct > 0, pnl_pct * lev, pnl_pct / lev)
    return float(out) if out.ndim == 0 else out


def adl_ranking(*, sides: Any, qtys: Any, entries: Any, margins: Any, mark: float,
                against: Sequence[int] | int, close_price: float | None = None) -> tuple[list[int], Any, Any]:
    """The order in which auto-deleveraging closes counterparties, and who may be closed at all.

    A counterparty is **eligible** against a trader position of side ``against`` (+1/-1, or the
    sides of every open trader position) when it holds the opposite side, still has size and
    margin, and is in profit at ``mark`` (docs/domain.md §4.6). Given ``close_price`` (the bankrupt
    position's bankruptcy price, where ADL closes), a counterparty must also stay solvent there:
    ``margin + uPnL(close_price) >= 0``, i.e. the price is not past its own bankruptcy price, so
    that no deleveraged trader ever ends below zero (one who would is skipped, not capped).
    Eligible counterparties come first, by descending :func:`adl_score`; the others follow by score
    (a queue a panel can show whole).

    Returns
    -------
    order : indices into the inputs, first closed first.
    scores : :func:`adl_score` of each input (NaN without size or margin).
    eligible : bool array.

    Examples
    --------
    Two shorts in profit at 60,000 and a long: against a long, the 5.042 short goes first.

    >>> order, scores, ok = adl_ranking(sides=[-1, -1, 1], qtys=[1, 2, 1], entries=[70_000, 61_000, 50_000],
    ...                                 margins=[7_000, 6_100, 5_000], mark=60_000, against=1)
    >>> order, ok.tolist()
    ([0, 1, 2], [True, True, False])
    """
    s = np.sign(np.asarray(sides, dtype=float))
    q = np.asarray(qtys, dtype=float)
    mg = np.asarray(margins, dtype=float)
    ep = np.asarray(entries, dtype=float)
    live = (q > 0) & (mg > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = adl_score(side=s, qty=q, entry=ep, mark=mark, margin=np.where(live, mg, 1.0))
    scores = np.where(live, np.asarray(raw, dtype=float), np.nan)
    signs = {int(against)} if isinstance(against, int | float | np.integer) else {int(x) for x in against}
    opposite = np.isin(-s, list(signs)) if signs else np.zeros(s.shape, dtype=bool)
    eligible = live & opposite & (s * (mark - ep) > 0)
    if close_price is not None:
        at_close = mg + np.asarray(unrealized_pnl(side=s, qty=q, entry=ep, mark=close_price))
        eligible &= np.isfinite(at_close) & (at_close >= 0)
    key = np.where(np.isfinite(scores), scores, -np.inf)
    order = sorted(range(s.size), key=lambda k: (not eligible[k], -key[k], k))
    return order, scores, eligible


def contract_adl_ranking(contract: Contract | None, *, sides: Any, qtys: Any, entries: Any, margins: Any, mark: float,
                         against: Sequence[int] | int, close_price: float | None = None) -> tuple[list[int], Any, Any]:
    """:func:`adl_ranking` of counterparties on ``contract``: an inverse contract's positions and
    prices go through its linear frame (docs/domain.md §7: the contracts, the other side, S/P),
    so PnL%, the bankruptcy price and the solvency test are the ones in the coin. None: linear."""
    if contract is None or not contract.is_inverse:
        return adl_ranking(sides=sides, qtys=qtys, entries=entries, margins=margins, mark=mark, against=against,
                           close_price=close_price)
    s, q, e = contract_frame(contract, side=np.asarray(sides, dtype=float), qty=np.asarray(qtys, dtype=float),
                             price=np.asarray(entries, dtype=float))
    x_mark, x_close = contract_frame(contract, side=1.0, qty=1.0, price=mark)[2], (
        None if close_price is None else contract_frame(contract, side=1.0, qty=1.0, price=close_price)[2])
    signs = [against] if isinstance(against, int | float | np.integer) else list(against)
    frame_against = [int(contract_frame(contract, side=float(a), qty=1.0, price=1.0)[0]) for a in signs]
    return adl_ranking(sides=s, qtys=q, entries=e, margins=margins, mark=float(x_mark),
                       against=frame_against[0] if isinstance(against, int | float | np.integer) else frame_against,
                       close_price=None if x_close is None else float(x_close))


def position_names(account: Account) -> list[tuple[str, str]]:
    """(label, ledger party) of every position, as events and the ledger name them.

    A symbol held once is its own tag (``BTCUSDT long``); a repeated one is numbered
    (``BTCUSDT#1 long``, ``BTCUSDT#2 short``). An isolated position's margin is the party
    ``trader.isolated.<tag>``; a cross position's is ``trader.wallet`` (the ledger's parties:
    docs/domain.md §4.7).

    >>> from core.model import Position
    >>> acct = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 1, 60_000, 10),
    ...                                      Position("BTCUSDT", Side.SHORT, 1, 61_000, 10, "cross")))
    >>> position_names(acct)
    [('BTCUSDT#1 long', 'trader.isolated.BTCUSDT#1'), ('BTCUSDT#2 short', 'trader.wallet')]
    """
    seen: dict[str, int] = {}
    for p in account.positions:
        seen[p.symbol] = seen.get(p.symbol, 0) + 1
    count: dict[str, int] = {}
    out = []
    for p in account.positions:
        count[p.symbol] = count.get(p.symbol, 0) + 1
        tag = p.symbol if seen[p.symbol] == 1 else f"{p.symbol}#{count[p.symbol]}"
        party = f"trader.isolated.{tag}" if p.mode is MarginMode.ISOLATED else WALLET
        out.append((f"{tag} {p.side.value}", party))
    return out


# ------------------------------------------------------------------------------- internal run state


# ---------------------------------------------------------------------------------------- the state


@dataclass(slots=True)
class Order:
    """A stop-loss or take-profit order resting on a position (``qty`` None: the whole)."""

    kind: ActionKind
    price: float
    qty: float | None


@dataclass(slots=True)
class Pos:
    """One trader position as the run changes it; ``party`` is the ledger party of its collateral."""

    index: int
    label: str
    party: str
    symbol: str
    sign: int
    qty: float
    entry: float
    leverage: float
    mode: MarginMode
    on_path: bool
    const_mark: float
    contract: Contract  # the position's contract: an inverse one sizes in contracts and settles in the coin
    orders: list[Order] = field(default_factory=list)
    closed: str = ""  # how and when the position went, for an action that comes too late

    @property
    def side(self) -> Side:
        return Side.LONG if self.sign > 0 else Side.SHORT

    def notional(self, price: float, qty: float | None = None) -> float:
        """The value of ``qty`` (default: all) at ``price`` in the settle asset (:func:`core.margin.settle_notional`)."""
        return float(settle_notional(self.contract, self.qty if qty is None else qty, price))

    def close(self, qty: float, price: float, fee_rate: float) -> Close:
        """:func:`core.orders.close_at` of ``qty`` of this position at ``price``, on its contract."""
        return close_at(side=self.sign, qty=qty, entry=self.entry, price=price, fee_rate=fee_rate,
                        contract=self.contract)


@dataclass(slots=True)
class Scope:
    """A scope's liquidation memory: ``"cross"`` or an isolated position's label."""

    key: str
    cooldown_until: float = -math.inf
    partial_done: bool = False


@dataclass(slots=True)
class Cp:
    """A counterparty and the size it still holds."""

    spec: Counterparty
    qty: float


class RunState:
    """The mutable state of one run: ledger, positions, scopes, counterparties, events, records.

    ``now`` is the time stamped on events and transfers (a tick's time, or an action's own time);
    prices are always a tick's (``mark[j]``, ``last[j]``).
    """

    def __init__(self, profile: Profile, account: Account, path: PricePath, *, symbol: str,
                 book: BookModel, insurance_fund: float = 0.0, counterparties: Sequence[Counterparty] = (),
                 spot: float = 0.0) -> None:
        self.profile = profile
        self.rules = profile.rules
        self.position_mode = account.position_mode
        self.path = path
        self.t, self.mark, self.last = path.t, path.mark, path.last
        self.symbol = symbol
        self.book = book
        self.lot = profile.contract(symbol).lot_size
        self.events: list[Event] = []
        self.records: list[LiquidationRecord] = []
        opening: dict[str, float] = {WALLET: account.wallet_usd}
        self.positions: list[Pos] = []
        for i, (p, (label, party)) in enumerate(zip(account.positions, position_names(account), strict=True)):
            if p.mode is MarginMode.ISOLATED:
                opening[party] = position_margin(profile, p)  # Bybit: the fee to close is part of it
            self.positions.append(Pos(index=i, label=label, party=party, symbol=p.symbol,
                                      sign=p.sign, qty=p.qty_base, entry=p.entry_price, leverage=p.leverage,
                                      mode=p.mode, on_path=p.symbol == symbol, const_mark=account.mark_of(p),
                                      contract=profile.contract(p.symbol)))
        if spot > 0:
            opening[SPOT] = spot
        opening[MARKET] = 0.0
        opening[FUND] = insurance_fund
        opening[FEES] = 0.0
        self.cps = [Cp(c, c.qty) for c in counterparties]
        for c in counterparties:
            opening[c.party] = c.margin
        self.ledger = Ledger(opening)
        # float residue of a settlement (1e-12 of a 64,600 price times a lot) moves in the ledger
        # but is not an event: nothing happened that a person could see
        self.dust = 1e-9 * (1.0 + math.fsum(abs(v) for v in opening.values())
                            + math.fsum(p.notional(p.entry) for p in self.positions))
        self.scopes: dict[str, Scope] = {}
        self.now = float(self.t[0])

    # -- the engine's view ----------------------------------------------------------------------

    def alive(self) -> list[Pos]:
        return [p for p in self.positions if p.qty > 0]

    def quote(self, j: int) -> tuple[AccountQuote, list[Pos]]:
        """The engine's quote of the open positions at tick ``j`` (:func:`core.quote.quote_account`)."""
        alive = self.alive()
        mark = float(self.mark[j])
        positions = []
        marks: dict[str, float] = {}
        for p in alive:
            margin = None
            if p.mode is MarginMode.ISOLATED:
                margin = max(self.ledger.balance(p.party), 1e-9)
            positions.append(Position(symbol=p.symbol, side=p.side, qty_base=p.qty, entry_price=p.entry,
                                      leverage=p.leverage, mode=p.mode, margin_usd=margin))
            marks[p.symbol] = mark if p.on_path else p.const_mark
        acct = Account(profile_id=self.profile.id, wallet_usd=0.0, positions=tuple(positions),
                       marks=tuple(sorted(marks.items())), position_mode=self.position_mode)
        # The cross wallet as it is, even in debt: a realised loss can take it below zero while the
        # other cross positions' unrealised profit still backs it (equity = wallet + uPnL stays the
        # engine's test). Account refuses a negative wallet as user input; the engine's formulas
        # are linear in it, so the run hands it over unchanged.
        object.__setattr__(acct, "wallet_usd", self.ledger.balance(WALLET))
        return quote_account(self.profile, acct), alive

    def position_quote(self, j: int, p: Pos) -> PositionQuote:
        """``p``'s quote at tick ``j`` with the balances as they are now."""
        aq, alive = self.quote(j)
        return quote_of(aq, alive, p)

    def scope_keys(self) -> list[str]:
        alive = self.alive()
        keys = [p.label for p in alive if p.mode is MarginMode.ISOLATED]
        if any(p.mode is MarginMode.CROSS for p in alive):
            keys.append("cross")
        return keys

    def scope_positions(self, key: str) -> list[Pos]:
        if key == "cross":
            return [p for p in self.alive() if p.mode is MarginMode.CROSS]
        return [p for p in self.alive() if p.label == key]

    def scope(self, key: str) -> Scope:
        if key not in self.scopes:
            self.scopes[key] = Scope(key)
        return self.scopes[key]

    def mark_of(self, p: Pos, j: int) -> float:
        """The position's mark at tick j: the path's for its symbol, the account's mark otherwise."""
        return float(self.mark[j]) if p.on_path else p.const_mark

    def last_of(self, p: Pos, j: int) -> float:
        """Where the book is for the position at tick j (last price; off the path: its mark)."""
        return float(self.last[j]) if p.on_path else p.const_mark

    def upnl(self, p: Pos, j: int, qty: float | None = None) -> float:
        """``p``'s unrealised PnL at its mark of tick ``j`` (of ``qty``, default all), in the settle asset."""
        return float(contract_pnl(p.contract, side=p.sign, qty=p.qty if qty is None else qty, entry=p.entry,
                                  exit_price=self.mark_of(p, j)))

    def backing(self, j: int, party: str, *, less: Pos | None = None, closing: float = 0.0) -> float:
        """What backs ``party``'s balance at tick ``j``: for the cross wallet, the uPnL at the mark of
        the open cross positions (``closing`` of ``less`` taken away first: a close being weighed),
        docs/domain.md §4.8; an isolated margin has nothing behind it."""
        if party != WALLET:
            return 0.0
        return math.fsum(self.upnl(o, j, o.qty - (closing if o is less else 0.0))
                         for o in self.alive() if o.mode is MarginMode.CROSS)

    def collateral(self, j: int, party: str) -> float:
        """``party``'s balance plus its :meth:`backing`: the most a fee may take (a cross wallet in
        debt may still be backed by a leg in profit)."""
        return self.ledger.balance(party) + self.backing(j, party)

    def liquidation_fee(self, p: Pos) -> float:
        return self.profile.liquidation_fee(p.symbol)

    def round_lot(self, qty: float, *, up: bool = False) -> float:
        return float(round_to_lot(qty, self.lot, up=up))

    # -- what the stages write ------------------------------------------------------------------

    def event(self, j: int, kind: EventKind, position: str, **kw: Any) -> None:
        self.events.append(Event(t=self.now, kind=kind, position=position, mark=float(self.mark[j]),
                                 last=float(self.last[j]), **kw))

    def record(self, j: int, p: Pos, q: PositionQuote, kind: str, qty: float, fill: float) -> None:
        """The five prices of a liquidation step (docs/domain.md §3.1), LP and BP from the quote ``q``."""
        self.records.append(LiquidationRecord(
            t=self.now, position=p.label, kind=kind, qty=qty, entry_price=p.entry,
            mark_at_trigger=self.mark_of(p, j), liquidation_price=q.liquidation_price,
            bankruptcy_price=q.bankruptcy_price, fill_price=fill))

    def take(self, p: Pos, qty: float, how: str) -> None:
        """Reduce ``p`` by ``qty`` (a remainder below a millionth of a lot is float dust: gone)."""
        p.qty = max(p.qty - qty, 0.0)
        if p.qty < self.lot * 1e-6:
            p.qty = 0.0
            p.closed = f"{how} at t = {self.now:g} s"


def quote_of(aq: AccountQuote, alive: list[Pos], p: Pos) -> PositionQuote:
    """``p``'s entry in an account quote built from ``alive``."""
    return aq.positions[next(i for i, o in enumerate(alive) if o is p)]


def scope_state(aq: AccountQuote, alive: list[Pos], key: str) -> tuple[float, float, bool]:
    """(equity, maintenance margin, liquidatable) of a scope, as the engine reports them."""
    if key == "cross":
        return aq.cross_equity, aq.cross_maintenance, aq.cross_liquidatable_now
    k = next(i for i, p in enumerate(alive) if p.label == key)
    pq = aq.positions[k]
    return pq.equity, pq.maintenance_margin, pq.liquidatable_now


# --------------------------------------------------------------------------------- funding


def pay_funding(run: RunState, j: int, rate: float) -> None:
    """Funding at ``run.now``, valued at the marks of tick ``j``: every open position on the path's
    symbol pays (or receives) :func:`core.funding.funding_payment`, booked by the profile's rule
    (:func:`core.funding.funding_split`: its isolated margin, the wallet, or the available balance
    first) between its collateral and ``funding``; one ``funding_payment`` event each, whose
    ``amount`` is what the position paid (negative: received).

    The rate is the path symbol's; positions on other symbols pay nothing in a run.
    """
    payers = [p for p in run.alive() if p.on_path]
    if not payers or rate == 0.0:
        return
    run.ledger.ensure(FUNDING)
    aq, alive = run.quote(j)
    cross = [(q, p) for q, p in zip(aq.positions, alive, strict=True) if p.mode is MarginMode.CROSS]
    commitment = cross_commitment(initial_margins=[q.initial_margin for q, _ in cross],
                                  upnls=[q.unrealized_pnl for q, _ in cross])
    for p in payers:
        mark = run.mark_of(p, j)
        pay = float(funding_payment(side=p.sign, value=position_value(run.profile, p.symbol, qty=p.qty, price=mark),
                                    rate=rate))
        from_wallet, from_margin = funding_split(
            pay, cross=p.mode is MarginMode.CROSS, booking=run.rules.funding_booking,
            available=available_balance(run.ledger.balance(WALLET), commitment))
        why = f"funding at {rate:.6%}: {p.label}"
        run.ledger.transfer(run.now, WALLET, FUNDING, from_wallet, why)
        run.ledger.transfer(run.now, p.party, FUNDING, from_margin, why)
        run.event(j, EventKind.FUNDING_PAYMENT, p.label, price=mark, qty=p.qty, amount=pay,
                  detail={"rate": rate, "from_wallet": from_wallet, "from_margin": from_margin,
                          "balance_after": run.ledger.balance(p.party)})


# ----------------------------------------------------------------------------- 1. the margin check


class Verdict(StrEnum):
    LIQUIDATE = "liquidate"
    BACKSTOP = "backstop"


def verdict(run: RunState, key: str, j: int, equity: float, mm: float, liquidatable: bool) -> Verdict | None:
    """What the waterfall does to a scope at tick ``j``, from the engine's equity, MM and test.

    Outside a cooldown: liquidate when the engine says liquidatable. During a cooldown (after a
    fraction partial) only the backstop acts: when equity < ``backstop_mm_fraction`` x MM.
    """
    in_cool = run.t[j] < run.scope(key).cooldown_until
    frac = run.rules.backstop_mm_fraction
    if in_cool:
        return Verdict.BACKSTOP if (liquidatable and frac is not None and equity < frac * mm) else None
    return Verdict.LIQUIDATE if liquidatable else None


@dataclass(frozen=True, slots=True)
class Check:
    """A scope's margin check at one tick: the verdict and the engine's numbers behind it."""

    verdict: Verdict
    equity: float
    maintenance_margin: float
    quote: AccountQuote
    alive: list[Pos]

    def of(self, p: Pos) -> PositionQuote:
        return quote_of(self.quote, self.alive, p)


def margin_check(run: RunState, j: int, key: str) -> Check | None:
    """Stage 1: the scope's equity against its maintenance margin at the mark (the engine's own
    ``liquidatable_now``, :func:`core.quote.quote_account`); None when nothing is to be done."""
    aq, alive = run.quote(j)
    equity, mm, liq = scope_state(aq, alive, key)
    v = verdict(run, key, j, equity, mm, liq)
    return None if v is None else Check(v, equity, mm, aq, alive)


# --------------------------------------------------------------------- 2. trigger, cancel orders


def trigger(run: RunState, j: int, key: str, check: Check) -> list[Pos]:
    """Stage 2: ``liquidation_triggered`` with the engine's LP and BP of the scope's largest
    position; returns the scope's positions, largest notional first."""
    members = sorted(run.scope_positions(key), key=lambda p: -p.notional(run.mark_of(p, j)))
    first = check.of(members[0])
    run.event(j, EventKind.LIQUIDATION_TRIGGERED, key, price=first.liquidation_price,
              qty=math.fsum(p.qty for p in members), amount=check.equity - check.maintenance_margin,
              detail={"equity": check.equity, "maintenance_margin": check.maintenance_margin,
                      "unrealized_pnl": math.fsum(check.of(p).unrealized_pnl for p in members),
                      "bankruptcy_price": first.bankruptcy_price})
    return members


def cancel_orders(run: RunState, j: int, key: str, members: Sequence[Pos]) -> None:
    """Stage 2: the scope's stop-loss and take-profit orders go (``orders_cancelled``, their count)."""
    n = sum(len(p.orders) for p in members)
    for p in members:
        p.orders.clear()
    run.event(j, EventKind.ORDERS_CANCELLED, key, qty=float(n))


# ------------------------------------------------------------------------- 3. the fill in the book


@dataclass(frozen=True, slots=True)
class BookClose:
    """What :func:`fill_in_book` did: ``qty`` filled at the average ``price``; PnL and fee booked."""

    qty: float
    price: float
    pnl: float
    fee: float


NO_FILL = BookClose(0.0, math.nan, 0.0, 0.0)


def fill_in_book(run: RunState, j: int, p: Pos, qty: float, fee_rate: float, reason: str) -> BookClose:
    """Stage 3: a market order closing up to ``qty`` of ``p`` against the book at the last price
    (IOC: it may fill only partly). The realised PnL (:func:`core.orders.close_at`) is settled with
    ``market``; the fee goes to ``fees``, never more than what is left in ``p``'s collateral."""
    fill = run.book.fill(side=-p.sign, qty=min(qty, p.qty), price=run.last_of(p, j))
    if fill.qty <= 0:
        return NO_FILL
    c = p.close(fill.qty, fill.price, fee_rate)
    run.ledger.transfer(run.now, MARKET, p.party, c.realized_pnl, f"{reason}: {p.label} {fill.qty:g} @ {fill.price:.6g}")
    run.take(p, fill.qty, reason)
    fee = min(c.fee, max(run.collateral(j, p.party), 0.0))
    run.ledger.transfer(run.now, p.party, FEES, fee, f"{reason} fee: {p.label}")
    return BookClose(fill.qty, fill.price, c.realized_pnl, fee)


# ------------------------------------------------------------- 5. settlement against bankruptcy


def bankruptcy_now(run: RunState, j: int, p: Pos) -> float:
    """``p``'s bankruptcy price from the engine with the balances as they are now."""
    return float(run.position_quote(j, p).bankruptcy_price)


def liability(run: RunState, j: int, p: Pos, x: float, adl_qty: float, bp: float, fee_rate: float,
              *, settles: bool) -> float:
    """What closing ``x`` of ``p`` in the book (and ``adl_qty`` at its bankruptcy price ``bp``)
    asks of the insurance fund.

    Notes
    -----
    The gap past bankruptcy of the units sold in the book, ``x * max(s * (bp - fill(x)), 0)`` with
    ``fill(x)`` the book's average price for ``x``; and, when the party is settled right after
    (``settles``: an isolated margin, or a cross wallet whose last position goes), whatever the
    close leaves it short: ``-(balance + realised PnL - fee)`` if that is positive (a fee, or an
    earlier debt of the wallet, can make it more than the gap).

    Examples
    --------
    The FAQ long (BP 61,200) sold in a bottomless book at 60,000: 5 x 1,200 = 6,000.
    """
    b = run.ledger.balance(p.party)
    r = gap = fee = 0.0
    if x > 0:
        price = run.book.price_for(side=-p.sign, qty=x, price=run.last_of(p, j))
        c = p.close(x, price, fee_rate)
        r = c.realized_pnl
        fee = min(c.fee, max(b + r + run.backing(j, p.party, less=p, closing=x), 0.0))
        # what closing at bankruptcy would have realised, beyond what the fill did
        gap = max(p.close(x, bp, 0.0).realized_pnl - r, 0.0) if math.isfinite(bp) else 0.0
    if adl_qty > 0:
        r += p.close(adl_qty, bp, 0.0).realized_pnl
    return max(gap, -(b + r - fee) if settles else 0.0, 0.0)


def _largest(ok: Callable[[float], bool], hi: float) -> float:
    """The largest y in [0, hi] with ``ok(y)``, by bisection (``ok`` holds up to a point)."""
    lo = 0.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def settle_close(run: RunState, j: int, p: Pos, want: float, bp: float, fee_rate: float, reason: str,
                 kind: EventKind, detail: Mapping[str, float], *, settles: bool, show_unfilled: bool = False,
                 always_event: bool = True) -> tuple[float, float]:
    """Close ``want`` of ``p``: every stage that closes a trader position comes here.

    The rule (docs/domain.md §4.4-§4.6): the book takes the order (:func:`fill_in_book`) as long as
    what it asks of the insurance fund (:func:`liability`: the gap past the bankruptcy price
    ``bp``) is within the fund. When it is not and an eligible counterparty exists, the book closes
    only the largest quantity the fund can cover (bisection on the book's fill curve, rounded down
    to the lot) and the rest is closed at ``bp`` against the ranked counterparties
    (:func:`deleverage`). Only when no eligible counterparty is left does the rest fill in the
    book, the fund paying past its balance. Each book fill is a ``kind`` event carrying ``detail``,
    its fee and ``bp`` (a stage that shows every attempt, ``always_event``, also shows an empty one).

    Returns (quantity closed in all, average book price or NaN).
    """
    fund = run.ledger.balance(FUND)
    want = min(want, p.qty)
    x = run.book.fill(side=-p.sign, qty=want, price=run.last_of(p, j)).qty
    adl_qty = 0.0
    if (liability(run, j, p, x, 0.0, bp, fee_rate, settles=settles) > fund + run.dust
            and adl_pool(run, p, run.mark_of(p, j), bp)):
        x = run.round_lot(_largest(
            lambda y: liability(run, j, p, y, want - y, bp, fee_rate, settles=settles) <= fund, x))
        adl_qty = want - x
    before = p.qty
    c = fill_in_book(run, j, p, x, fee_rate, reason) if x > 0 else NO_FILL
    price = c.price

    def show(c: BookClose, unfilled: float) -> None:
        extra = {"unfilled": unfilled} if show_unfilled else {}
        run.event(j, kind, p.label, price=c.price, qty=c.qty, amount=c.pnl,
                  detail={**detail, "fee": c.fee, "bankruptcy_price": bp, **extra})

    if c.qty > 0 or (always_event and adl_qty <= 0):
        show(c, before - c.qty - adl_qty)
    closed = c.qty
    if adl_qty > 0:
        left = deleverage(run, j, p, adl_qty, bp)
        closed += adl_qty - left
        if left > 0:
            # no eligible counterparty is left: the rest goes to the book after all and the fund
            # pays the gap even past its balance (shown as a negative fund)
            more = fill_in_book(run, j, p, left, fee_rate, reason)
            if more.qty > 0:
                show(more, left - more.qty)
                price = more.price if c.qty <= 0 else average_entry_price(p.contract, [c.qty, more.qty],
                                                                          [c.price, more.price])
                closed += more.qty
    return closed, price


def pay_shortfall(run: RunState, j: int, party: str, position: str) -> None:
    """Stage 5: the fund pays what ``party`` is short (``insurance_fund_payout``), even past its
    own balance -- :func:`settle_close` has already deleveraged whom it could."""
    bal = run.ledger.balance(party)
    if bal < 0:
        run.ledger.transfer(run.now, FUND, party, -bal, f"fund pays the gap past bankruptcy: {position}")
        if -bal > run.dust:
            run.event(j, EventKind.INSURANCE_FUND_PAYOUT, position, amount=-bal,
                      detail={"fund_after": run.ledger.balance(FUND)})


def settle_party(run: RunState, j: int, party: str, position: str) -> None:
    """:func:`pay_shortfall` -- unless ``party`` is the cross wallet and cross positions are still
    open: their equity (wallet + uPnL) carries the debt until the scope is closed."""
    if party == WALLET and any(p.mode is MarginMode.CROSS for p in run.alive()):
        return
    pay_shortfall(run, j, party, position)


def surplus_to_fund(run: RunState, j: int, party: str, key: str) -> None:
    """Stage 5, a scope closed whole: what is left of its collateral is the fills' surplus over the
    bankruptcy price and goes to the fund (``insurance_fund_inflow``); a deficit the fund pays."""
    bal = run.ledger.balance(party)
    if bal > 0:
        run.ledger.transfer(run.now, party, FUND, bal, f"surplus over bankruptcy to the fund: {key}")
        if bal > run.dust:
            run.event(j, EventKind.INSURANCE_FUND_INFLOW, key, amount=bal,
                      detail={"fund_after": run.ledger.balance(FUND)})
    else:
        pay_shortfall(run, j, party, key)


# ------------------------------------------------------------------------- 4. partial liquidation


def partial_liquidation(run: RunState, j: int, key: str, members: list[Pos], check: Check) -> bool:
    """Stage 4 by the profile's ``partial_liquidation`` rule; True when it dealt with the scope
    (False: the scope is liquidated whole)."""
    rule = run.rules.partial_liquidation
    if rule is PartialLiquidation.FRACTION:
        notional = math.fsum(p.notional(run.mark_of(p, j)) for p in members)
        if run.scope(key).partial_done or notional <= run.rules.partial_min_notional:
            return False
        partial_fraction(run, j, key, members, check)
        return True
    if rule is PartialLiquidation.TIER_STEP_DOWN:
        return step_down(run, j, key, check)
    return False


def partial_fraction(run: RunState, j: int, key: str, members: list[Pos], check: Check) -> None:
    """Hyperliquid's partial: every position of the scope loses ``partial_fraction`` (at least a
    lot), those in profit first; a ``cooldown_s`` cooldown starts, during which only the backstop
    acts (:func:`verdict`)."""
    t = float(run.t[j])
    for p in close_order(run, j, key):
        x = max(run.round_lot(p.qty * run.rules.partial_fraction), run.lot)
        closed, price = settle_close(
            run, j, p, x, bankruptcy_now(run, j, p), run.liquidation_fee(p), "partial liquidation",
            EventKind.PARTIAL_LIQUIDATION, {"fraction": run.rules.partial_fraction,
                                            "cooldown_until": t + run.rules.cooldown_s},
            settles=p.party != WALLET)
        run.record(j, p, check.of(p), "partial", closed, price)
    settle_party(run, j, members[0].party, key)
    sc = run.scope(key)
    sc.partial_done = True
    sc.cooldown_until = t + run.rules.cooldown_s
    backstop_if_below(run, j, key)


def hedge_partner(run: RunState, p: Pos) -> Pos | None:
    """The open cross leg on the other side of ``p``'s symbol (hedge mode), or None."""
    if p.mode is not MarginMode.CROSS:
        return None
    return next((o for o in run.alive() if o.mode is MarginMode.CROSS and o.symbol == p.symbol
                 and o.sign == -p.sign), None)


def hedged_reduction(run: RunState, p: Pos, want: float) -> list[tuple[Pos, float]]:
    """What a partial liquidation closes when it would close ``want`` of ``p``, with ``p``'s
    hedge partner in cross (docs/domain.md §8): the net part first, the hedged part in pairs.

    Notes
    -----
    With a partner of size ``h`` on the other side, ``p``'s excess ``e = max(q - h, 0)`` is the
    net position. A step closes ``min(want, e)`` of ``p`` alone when ``e`` is at least a lot, and
    otherwise closes ``want`` from *both* legs (at most ``h``). The net exposure is therefore never
    turned around: a partial liquidation of a hedged book does not leave the trader short where
    they were long, with a new price risk on the other side. This is the reading of Bybit's cross
    rule (only the net position is liquidated; a fully hedged position is not) and of BTSE's
    (hedged positions are closed together) that fits a step-down which must still reduce a
    tier-floor notional.

    Examples
    --------
    The issue's pair, long 4 and short 2 BTC: a step that wants 3.043 of the long closes the net
    2 of the long; with 2 and 2 left, a step that wants 1.043 closes 1.043 of each.
    """
    partner = hedge_partner(run, p)
    if partner is None:
        return [(p, want)]
    excess = run.round_lot(p.qty - partner.qty)
    if excess >= run.lot:
        return [(p, min(want, excess))]
    pair = min(want, p.qty, partner.qty)
    return [(p, pair), (partner, pair)]


def step_down(run: RunState, j: int, key: str, check: Check) -> bool:
    """Binance / Bybit tier step-down: close just enough of the scope's largest position to bring
    its notional under its tier's floor; stop once the scope is compliant (True), step down again
    otherwise; in the first tier give up (False: liquidate whole).

    The tier is chosen by notional at the MM basis price (entry or mark), :meth:`TierTable.index`.
    """
    quotes = {id(p): check.of(p) for p in run.scope_positions(key)}
    for _ in range(64):
        best = None
        for p in run.scope_positions(key):
            tiers = run.profile.effective_tiers(p.symbol)
            price = p.entry if run.rules.mm_basis is MMBasis.ENTRY else run.mark_of(p, j)
            n = p.notional(price)
            k = int(tiers.index(n))
            if k > 0 and (best is None or n > best[0]):
                best = (n, p, float(tiers.floor[k]), price)
        if best is None:
            return False
        _, p, floor, price = best
        # the notional is proportional to the size: keep floor / (notional of one unit)
        x = min(max(run.round_lot(p.qty - floor / p.notional(price, 1.0), up=True), run.lot), p.qty)
        if x < p.qty and p.notional(price, p.qty - x) >= floor:
            x = min(x + run.lot, p.qty)  # exactly at the floor is still the upper tier (docs/domain.md §11)
        closed = 0.0
        for leg, y in hedged_reduction(run, p, x):
            q = quotes.pop(id(leg), None) or run.position_quote(j, leg)
            c, fprice = settle_close(run, j, leg, y, bankruptcy_now(run, j, leg), run.liquidation_fee(leg),
                                     "tier step-down", EventKind.PARTIAL_LIQUIDATION,
                                     {"target_notional": floor}, settles=leg.party != WALLET)
            run.record(j, leg, q, "partial", c, fprice)
            closed += c
        settle_party(run, j, p.party, p.label)
        if not run.scope_positions(key):
            return True
        if closed <= 0:
            return False
        aq, alive = run.quote(j)
        if not scope_state(aq, alive, key)[2]:
            return True
    return False


# ------------------------------------------------------------------------------------ 6. backstop


def backstop(run: RunState, j: int, key: str, members: Sequence[Pos], quote: Callable[[Pos], PositionQuote]) -> None:
    """Stage 6: the party ``liquidator_vault`` takes over the scope's positions with all their
    collateral (``backstop``, one per position); the maintenance margin is not returned."""
    run.ledger.ensure(VAULT)
    for p in members:
        q = quote(p)
        run.event(j, EventKind.BACKSTOP, p.label, price=q.bankruptcy_price, qty=p.qty,
                  detail={"equity": q.equity, "maintenance_margin": q.maintenance_margin})
        run.record(j, p, q, "backstop", p.qty, math.nan)
        run.take(p, p.qty, "taken over by the backstop")
    party = members[0].party
    run.ledger.transfer(run.now, party, VAULT, run.ledger.balance(party),
                        f"backstop: the liquidator vault takes over {key} and its collateral")


def backstop_if_below(run: RunState, j: int, key: str) -> None:
    """After the book: backstop what it could not absorb when equity is below the backstop line."""
    frac = run.rules.backstop_mm_fraction
    if frac is None or not run.scope_positions(key):
        return
    aq, alive = run.quote(j)
    e, m, liq = scope_state(aq, alive, key)
    if liq and e < frac * m:
        backstop(run, j, key, run.scope_positions(key), lambda p: quote_of(aq, alive, p))


# -------------------------------------------------------------------------- 7. auto-deleveraging


def adl_pool(run: RunState, p: Pos, mark: float, bp: float) -> list[tuple[Cp, float]]:
    """Counterparties ADL may close against ``p`` at its bankruptcy price ``bp``, in order, with
    their scores (:func:`adl_ranking`: opposite side, in profit at the mark, solvent at ``bp``).

    The scenario's counterparties trade the path's symbol; a position on another symbol has none.
    """
    if not p.on_path or not run.cps or not math.isfinite(bp):
        return []
    order, scores, eligible = contract_adl_ranking(
        p.contract, sides=[c.spec.side.sign for c in run.cps], qtys=[c.qty for c in run.cps],
        entries=[c.spec.entry for c in run.cps],
        margins=[run.ledger.balance(c.spec.party) for c in run.cps], mark=mark, against=p.sign,
        close_price=bp)
    return [(run.cps[k], float(scores[k])) for k in order if eligible[k]]


def deleverage(run: RunState, j: int, p: Pos, qty: float, bp: float) -> float:
    """Stage 7: close ``qty`` of ``p`` at its bankruptcy price against the ranked counterparties
    (``adl``, one per counterparty); both sides realise their PnL at ``bp`` with ``market``.

    Returns the quantity no eligible counterparty could take.
    """
    left = qty
    for c, score in adl_pool(run, p, run.mark_of(p, j), bp):
        if left <= 0 or p.qty <= 0:
            break
        z = min(left, c.qty, p.qty)
        own = p.close(z, bp, 0.0).realized_pnl
        run.ledger.transfer(run.now, MARKET, p.party, own, f"adl close at bankruptcy: {p.label} {z:g} @ {bp:.6g}")
        theirs = close_at(side=c.spec.side, qty=z, entry=c.spec.entry, price=bp, fee_rate=0.0,
                          contract=p.contract).realized_pnl
        run.ledger.transfer(run.now, MARKET, c.spec.party, theirs,
                            f"adl: {c.spec.name} closed {z:g} @ {bp:.6g} against {p.label}")
        c.qty -= z
        left -= z
        run.take(p, z, "auto-deleveraged")
        run.event(j, EventKind.ADL, c.spec.name, price=bp, qty=z, amount=theirs,
                  detail={"rank_score": score, "against": float(p.index)})
    return max(left, 0.0)


# ---------------------------------------------------------------------- the whole scope, in order


def close_order(run: RunState, j: int, key: str) -> list[Pos]:
    """The scope's positions in the order a liquidation closes them: those in profit at the mark
    first (their gain backs the losers' settlement), then by notional, largest first."""
    return sorted(run.scope_positions(key), key=lambda p: (run.upnl(p, j) <= 0, -p.notional(run.mark_of(p, j))))


def liquidate_whole(run: RunState, j: int, key: str) -> None:
    """Stages 3, 5 and 7 for a whole scope: every position closed through :func:`settle_close`
    (``liquidation_fill``, ``adl``), then the collateral settled (:func:`surplus_to_fund`); an
    unfilled remainder stays open for the next tick, or goes to the backstop."""
    aq, alive = run.quote(j)  # after any partial step: the records show the prices as they now are
    members = close_order(run, j, key)
    party = members[0].party
    for p in members:
        bp = bankruptcy_now(run, j, p)
        closed, fprice = settle_close(run, j, p, p.qty, bp, run.liquidation_fee(p), "liquidation fill",
                                      EventKind.LIQUIDATION_FILL, {}, settles=True, show_unfilled=True,
                                      always_event=False)
        run.record(j, p, quote_of(aq, alive, p), "whole", closed, fprice)
    if not run.scope_positions(key):
        surplus_to_fund(run, j, party, key)
    else:
        settle_party(run, j, party, key)
        backstop_if_below(run, j, key)


def liquidate(run: RunState, j: int, key: str) -> None:
    """The waterfall for one scope at tick ``j`` (docs/simulator.md, docs/domain.md §4)."""
    check = margin_check(run, j, key)                          # 1. equity < MM at the mark?
    if check is None:
        return
    members = trigger(run, j, key, check)                      # 2. liquidation_triggered
    cancel_orders(run, j, key, members)                        # 2. orders_cancelled
    if check.verdict is Verdict.BACKSTOP:                      # 6. during a cooldown
        backstop(run, j, key, members, check.of)
        return
    if partial_liquidation(run, j, key, members, check):       # 4. step-down or a fraction
        return
    liquidate_whole(run, j, key)                               # 3, 5, 7. book, fund, ADL

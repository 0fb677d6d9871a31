"""The liquidation waterfall played over a price path, with a double-entry ledger.

:func:`simulate` walks a :class:`~core.prices.PricePath` for one account under one exchange profile
and records what happens after the mark crosses the liquidation price (DOMAIN.md §3-§4):

1. **Margin check at mark.** A scope -- one isolated position, or every cross position of the
   account together -- is liquidatable when its equity at the mark is below its maintenance margin.
   The test is the engine's own (:func:`core.quote.quote_account`, ``liquidatable_now``); nothing is
   re-derived here.
2. **Trigger** (``liquidation_triggered``) and **cancel open orders** (``orders_cancelled``): the
   scope's stop-loss and take-profit orders go.
3. **Liquidation order against the book** (:class:`~core.book.BookModel`): an IOC market order at the
   last price, with slippage from the book's depth; it may fill only partly (``liquidation_fill``).
   The profile's liquidation fee is charged on the filled notional, never more than what is left.
4. **Partial liquidation** by the profile's rule: ``tier_step_down`` reduces the largest position to
   the floor of its tier and stops once the scope is compliant again; ``fraction`` closes
   ``partial_fraction`` of a scope whose notional exceeds ``partial_min_notional`` and starts a
   ``cooldown_s`` cooldown, after which a still-liquidatable scope is liquidated whole
   (``partial_liquidation``).
5. **Settlement against the bankruptcy price**: after a whole liquidation what is left of the
   collateral goes to the insurance fund (``insurance_fund_inflow``); a fill worse than the
   bankruptcy price leaves a deficit the fund pays (``insurance_fund_payout``).
6. **Backstop**: where the profile sets ``backstop_mm_fraction`` (Hyperliquid 2/3), a scope whose
   equity falls below that fraction of MM while the book could not close it (an unfilled
   remainder, or during the cooldown) is taken over with its collateral by ``liquidator_vault``
   (``backstop``).
7. **Auto-deleveraging**: when the fund cannot pay the gap, the part of the position the fund cannot
   cover is closed at the bankruptcy price against opposite-side counterparties ranked by
   :func:`adl_score` (``adl``).

Trader actions at given times: ``add_margin`` (``margin_added``), ``change_leverage``
(``leverage_changed``), ``reduce`` (``position_reduced``), and ``stop_loss`` / ``take_profit`` orders
that trigger on the **last** price (``stop_triggered`` then ``position_reduced``).

Speed: between events the state is constant, so the first tick where a scope could be liquidatable is
found with one numpy pass over the remaining path (equity minus MM as the mark moves, anchored on
the engine's values at the segment start) and only candidate ticks go through the engine.

Money: every balance change is a :class:`~core.ledger.Transfer` between two parties; the realised PnL
of every close is settled with ``market`` (all other traders), so the sum of balances never changes.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np

from core import fmt
from core.book import BookModel
from core.errors import InvalidInputError
from core.ledger import Ledger, PartyBalance, Transfer
from core.liquidation import bankruptcy_price
from core.margin import maintenance_margin, unrealized_pnl
from core.model import Account, MarginMode, Position, Side
from core.prices import (
    SECONDS_PER_YEAR,
    Jumps,
    PricePath,
    gap,
    gbm_path,
    linear_crash,
    mark_from_index,
    path_from_points,
    read_price_csv,
    time_grid,
    with_last_wick,
)
from core.profiles import MMBasis, PartialLiquidation, Profile, round_to_lot
from core.quote import AccountQuote, position_margin, quote_account, validate_position
from core.validate import number


class EventKind(StrEnum):
    ORDERS_CANCELLED = "orders_cancelled"
    LIQUIDATION_TRIGGERED = "liquidation_triggered"
    PARTIAL_LIQUIDATION = "partial_liquidation"
    LIQUIDATION_FILL = "liquidation_fill"
    INSURANCE_FUND_INFLOW = "insurance_fund_inflow"
    INSURANCE_FUND_PAYOUT = "insurance_fund_payout"
    BACKSTOP = "backstop"
    ADL = "adl"
    STOP_TRIGGERED = "stop_triggered"
    MARGIN_ADDED = "margin_added"
    LEVERAGE_CHANGED = "leverage_changed"
    POSITION_REDUCED = "position_reduced"
    ORDER_PLACED = "order_placed"
    ACTION_SKIPPED = "action_skipped"


class ActionKind(StrEnum):
    ADD_MARGIN = "add_margin"
    CHANGE_LEVERAGE = "change_leverage"
    REDUCE = "reduce"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


WALLET: Final = "trader.wallet"
SPOT: Final = "trader.spot"
MARKET: Final = "market"
FUND: Final = "insurance_fund"
FEES: Final = "fees"
VAULT: Final = "liquidator_vault"


def _jnum(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the waterfall. ``price`` is the event's own price (fill, trigger, BP); NaN if none.

    ``amount`` is the money the event moved (realised PnL of a fill, a fund flow, a fee-free margin
    transfer), in quote currency; ``detail`` carries extra numbers (equity, MM, fee, ...); ``note``
    words where a number will not do (an order's kind, why an action was skipped).
    """

    t: float
    kind: EventKind
    position: str
    mark: float
    last: float
    price: float = math.nan
    qty: float = 0.0
    amount: float = 0.0
    detail: Mapping[str, float] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"t": self.t, "kind": self.kind.value, "position": self.position, "mark": self.mark,
                "last": self.last, "price": _jnum(self.price), "qty": self.qty, "amount": self.amount,
                "detail": {k: _jnum(v) for k, v in self.detail.items()}, "note": self.note}


@dataclass(frozen=True, slots=True)
class LiquidationRecord:
    """The five prices of one liquidation step (DOMAIN.md §3): entry, mark at trigger, LP, BP, fill.

    ``kind`` is ``"whole"``, ``"partial"`` or ``"backstop"``; ``fill_price`` is the average book fill
    (NaN when nothing filled in the book: a backstop, or a fully auto-deleveraged close).
    """

    t: float
    position: str
    kind: str
    qty: float
    entry_price: float
    mark_at_trigger: float
    liquidation_price: float
    bankruptcy_price: float
    fill_price: float

    def as_dict(self) -> dict[str, Any]:
        return {"t": self.t, "position": self.position, "kind": self.kind, "qty": self.qty,
                "entry": self.entry_price, "mark_at_trigger": self.mark_at_trigger,
                "liquidation_price": _jnum(self.liquidation_price),
                "bankruptcy_price": _jnum(self.bankruptcy_price), "fill_price": _jnum(self.fill_price)}


@dataclass(frozen=True, slots=True)
class Counterparty:
    """An opposite-side trader who may be auto-deleveraged; ``margin`` is its collateral."""

    name: str
    side: Side
    qty: float
    entry: float
    margin: float

    @property
    def party(self) -> str:
        return f"adl.{self.name}"


@dataclass(frozen=True, slots=True)
class Action:
    """A scripted trader action at time ``t`` on ``account.positions[position]``.

    ``value`` is the amount (add_margin), the new leverage (change_leverage), the quantity (reduce)
    or the trigger price (stop_loss, take_profit); ``qty`` is an order's size (None: the whole).
    """

    t: float
    kind: ActionKind
    position: int
    value: float
    qty: float | None = None


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """A position still open when the path ends; ``party`` holds its collateral."""

    label: str
    party: str
    side: Side
    qty: float
    entry: float

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.label, "party": self.party, "side": self.side.value, "qty": self.qty,
                "entry": self.entry}


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Everything one run produced."""

    path: PricePath
    symbol: str
    profile_id: str
    events: tuple[Event, ...]
    transfers: tuple[Transfer, ...]
    parties: tuple[PartyBalance, ...]
    liquidations: tuple[LiquidationRecord, ...]
    open_positions: tuple[OpenPosition, ...] = ()
    tick_size: float = 0.01  # the contract's price tick, for rounding prices shown to people

    def events_of(self, kind: EventKind | str) -> tuple[Event, ...]:
        k = EventKind(kind)
        return tuple(e for e in self.events if e.kind is k)

    def party(self, name: str) -> PartyBalance:
        for p in self.parties:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def imbalance(self) -> float:
        """Sum of end balances minus sum of start balances: zero up to rounding, by construction."""
        return math.fsum(p.end for p in self.parties) - math.fsum(p.start for p in self.parties)

    def as_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` contract."""
        return {"symbol": self.symbol, "exchange": self.profile_id,
                "events": [e.as_dict() for e in self.events],
                "ledger": [tr.as_dict() for tr in self.transfers],
                "parties": [p.as_dict() for p in self.parties],
                "liquidations": [r.as_dict() for r in self.liquidations],
                "open_positions": [p.as_dict() for p in self.open_positions]}

    def summary(self) -> str:
        """A short account for people: the events, the five prices, who gained and lost."""
        n = fmt.money

        def px(x: float) -> str:
            return fmt.price(x, self.tick_size)

        lines = [f"{self.profile_id} {self.symbol}: {len(self.path)} ticks, "
                 f"t = {self.path.t[0]:g} .. {self.path.t[-1]:g} s"]
        if not self.events:
            lines.append("Nothing happened: no trigger, no order, no action.")
        for e in self.events:
            price = "" if not math.isfinite(e.price) else f" @ {px(e.price)}"
            qty = f" qty {fmt.num(round(e.qty, 9))}" if e.qty else ""
            amt = f" amount {n(e.amount)}" if e.amount else ""
            note = f"  ({e.note})" if e.note else ""
            lines.append(f"  t={e.t:>10g}  {e.kind.value:<22} {e.position:<22} mark {px(e.mark)}"
                         f"{price}{qty}{amt}{note}")
        for r in self.liquidations:
            lines.append(f"  {r.kind} liquidation of {r.position} at t={r.t:g}: entry {px(r.entry_price)}, "
                         f"mark {px(r.mark_at_trigger)}, liquidation {px(r.liquidation_price)}, "
                         f"bankruptcy {px(r.bankruptcy_price)}, fill {px(r.fill_price)}")
        lines.append("Balances (start -> end):")
        for p in self.parties:
            lines.append(f"  {p.name:<28} {n(p.start):>18} -> {n(p.end):>18}  ({'+' if p.change >= 0 else ''}"
                         f"{n(p.change)})")
        lines.append(f"Money conserved: sum of changes = {n(self.imbalance)}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ ADL rank


def adl_score(*, side: Any, qty: Any, entry: Any, mark: Any, margin: Any) -> Any:
    """Auto-deleveraging rank: higher is closed first (BitMEX / MEXC / Bybit form, DOMAIN.md §4.6).

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
    margin, and is in profit at ``mark`` (DOMAIN.md §4.6). Given ``close_price`` (the bankrupt
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


def position_names(account: Account) -> list[tuple[str, str]]:
    """(label, ledger party) of every position, as events and the ledger name them.

    A symbol held once is its own tag (``BTCUSDT long``); a repeated one is numbered
    (``BTCUSDT#1 long``, ``BTCUSDT#2 short``). An isolated position's margin is the party
    ``trader.isolated.<tag>``; a cross position's is ``trader.wallet``.

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


@dataclass(slots=True)
class _Order:
    kind: ActionKind
    price: float
    qty: float | None


@dataclass(slots=True)
class _Pos:
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
    orders: list[_Order] = field(default_factory=list)
    closed: str = ""  # how and when the position went, for an action that comes too late


@dataclass(slots=True)
class _Scope:
    key: str  # "cross" or the isolated position's label
    cooldown_until: float = -math.inf
    partial_done: bool = False


@dataclass(slots=True)
class _Cp:
    spec: Counterparty
    qty: float


class _Run:
    def __init__(self, profile: Profile, account: Account, path: PricePath, *, symbol: str,
                 book: BookModel, insurance_fund: float, counterparties: Sequence[Counterparty],
                 actions: Sequence[Action]) -> None:
        self.profile = profile
        self.rules = profile.rules
        self.account = account
        self.path = path
        self.t, self.mark, self.last = path.t, path.mark, path.last
        self.symbol = symbol
        self.book = book
        self.lot = profile.contract(symbol).lot_size
        self.events: list[Event] = []
        self.records: list[LiquidationRecord] = []
        spot = math.fsum(a.value for a in actions if a.kind is ActionKind.ADD_MARGIN)
        opening: dict[str, float] = {WALLET: account.wallet_usd}
        self.positions: list[_Pos] = []
        for i, (p, (label, party)) in enumerate(zip(account.positions, position_names(account), strict=True)):
            if p.mode is MarginMode.ISOLATED:
                opening[party] = position_margin(profile, p)  # Bybit: the fee to close is part of it
            self.positions.append(_Pos(index=i, label=label, party=party, symbol=p.symbol,
                                       sign=p.sign, qty=p.qty_base, entry=p.entry_price, leverage=p.leverage,
                                       mode=p.mode, on_path=p.symbol == symbol, const_mark=account.mark_of(p)))
        if spot > 0:
            opening[SPOT] = spot
        opening[MARKET] = 0.0
        opening[FUND] = insurance_fund
        opening[FEES] = 0.0
        self.cps = [_Cp(c, c.qty) for c in counterparties]
        for c in counterparties:
            opening[c.party] = c.margin
        self.ledger = Ledger(opening)
        # float residue of a settlement (1e-12 of a 64,600 price times a lot) moves in the ledger
        # but is not an event: nothing happened that a person could see
        self.dust = 1e-9 * (1.0 + math.fsum(abs(v) for v in opening.values())
                            + math.fsum(p.qty * p.entry for p in self.positions))
        self.scopes: dict[str, _Scope] = {}
        self.actions = sorted(enumerate(actions), key=lambda ia: (ia[1].t, ia[0]))
        self.now = float(self.t[0])  # the time stamped on events and transfers

    # -- engine access ------------------------------------------------------------------------

    def alive(self) -> list[_Pos]:
        return [p for p in self.positions if p.qty > 0]

    def quote(self, j: int) -> tuple[AccountQuote, list[_Pos]]:
        alive = self.alive()
        mark = float(self.mark[j])
        positions = []
        marks: dict[str, float] = {}
        for p in alive:
            margin = None
            if p.mode is MarginMode.ISOLATED:
                margin = max(self.ledger.balance(p.party), 1e-9)
            positions.append(Position(symbol=p.symbol, side=Side.LONG if p.sign > 0 else Side.SHORT,
                                      qty_base=p.qty, entry_price=p.entry, leverage=p.leverage, mode=p.mode,
                                      margin_usd=margin))
            marks[p.symbol] = mark if p.on_path else p.const_mark
        acct = Account(profile_id=self.profile.id, wallet_usd=0.0, positions=tuple(positions),
                       marks=tuple(sorted(marks.items())))
        # The cross wallet as it is, even in debt: a realised loss can take it below zero while the
        # other cross positions' unrealised profit still backs it (equity = wallet + uPnL stays the
        # engine's test). Account refuses a negative wallet as user input; the engine's formulas
        # are linear in it, so the run hands it over unchanged.
        object.__setattr__(acct, "wallet_usd", self.ledger.balance(WALLET))
        return quote_account(self.profile, acct), alive

    def scope_keys(self) -> list[str]:
        alive = self.alive()
        keys = [p.label for p in alive if p.mode is MarginMode.ISOLATED]
        if any(p.mode is MarginMode.CROSS for p in alive):
            keys.append("cross")
        return keys

    def scope_positions(self, key: str) -> list[_Pos]:
        if key == "cross":
            return [p for p in self.alive() if p.mode is MarginMode.CROSS]
        return [p for p in self.alive() if p.label == key]

    def scope(self, key: str) -> _Scope:
        if key not in self.scopes:
            self.scopes[key] = _Scope(key)
        return self.scopes[key]

    def scope_state(self, aq: AccountQuote, alive: list[_Pos], key: str) -> tuple[float, float, bool]:
        """(equity, maintenance margin, liquidatable) of a scope, as the engine reports them."""
        if key == "cross":
            return aq.cross_equity, aq.cross_maintenance, aq.cross_liquidatable_now
        k = next(i for i, p in enumerate(alive) if p.label == key)
        pq = aq.positions[k]
        return pq.equity, pq.maintenance_margin, pq.liquidatable_now

    def position_quote(self, aq: AccountQuote, alive: list[_Pos], pos: _Pos) -> Any:
        return aq.positions[next(i for i, p in enumerate(alive) if p is pos)]

    def _mm_curve(self, p: _Pos, prices: Any) -> Any:
        """The position's maintenance margin as the mark moves (engine's margin function)."""
        tiers = self.profile.effective_tiers(p.symbol)
        return maintenance_margin(qty=p.qty, price=prices, tiers=tiers)

    def backstop_on(self) -> bool:
        return self.rules.backstop_mm_fraction is not None

    def wants(self, key: str, j: int, equity: float, mm: float, liquidatable: bool) -> str | None:
        """What the waterfall does to a scope at tick j: "liquidate", "backstop" or None."""
        sc = self.scope(key)
        in_cool = self.t[j] < sc.cooldown_until
        bs = self.backstop_on() and equity < (self.rules.backstop_mm_fraction or 0.0) * mm
        if in_cool:
            return "backstop" if (liquidatable and bs) else None
        return "liquidate" if liquidatable else None

    # -- fast search ----------------------------------------------------------------------------

    def first_liquidation(self, a: int, b: int, *, skip_first: bool = False) -> tuple[int, str] | None:
        """First tick in [a, b) at which some scope wants liquidation or a backstop (engine-confirmed).

        ``skip_first``: tick ``a`` was already checked (before the trader's actions of that tick).
        """
        if a >= b:
            return None
        aq, alive = self.quote(a)
        best: tuple[int, str] | None = None
        prices = self.mark[a:b]
        p0 = float(self.mark[a])
        tt = self.t[a:b]
        for key in self.scope_keys():
            e0, mm0, _ = self.scope_state(aq, alive, key)
            d_e = np.zeros(prices.shape)
            d_mm = np.zeros(prices.shape)
            for p in self.scope_positions(key):
                if not p.on_path:
                    continue
                d_e += np.asarray(unrealized_pnl(side=p.sign, qty=p.qty, entry=p0, mark=prices))
                if self.rules.mm_basis is MMBasis.MARK:
                    d_mm += np.asarray(self._mm_curve(p, prices)) - float(self._mm_curve(p, np.float64(p0)))
            eq = e0 + d_e
            mm = mm0 + d_mm
            tol = 1e-9 * (1.0 + abs(mm0) + abs(e0))
            sc = self.scope(key)
            mask = (eq - mm < tol)
            if skip_first:
                mask[0] = False
            if sc.cooldown_until > tt[0]:
                cool = tt < sc.cooldown_until
                frac = self.rules.backstop_mm_fraction
                bs = (eq - frac * mm < tol) if frac is not None else np.zeros(mask.shape, dtype=bool)
                mask &= (~cool) | bs
            limit = b if best is None else best[0]
            cand = np.flatnonzero(mask[: limit - a])
            for k in cand:
                j = a + int(k)
                aqj, alive_j = self.quote(j)
                e, m, liq = self.scope_state(aqj, alive_j, key)
                if self.wants(key, j, e, m, liq):
                    if best is None or j < best[0]:
                        best = (j, key)
                    break
        return best

    def first_stop(self, a: int, b: int) -> int | None:
        best: int | None = None
        last = self.last[a:b]
        for p in self.alive():
            if not p.on_path:
                continue
            for o in p.orders:
                below = (o.kind is ActionKind.STOP_LOSS) == (p.sign > 0)
                hit = last <= o.price if below else last >= o.price
                k = np.flatnonzero(hit[: (b if best is None else best) - a])
                if k.size:
                    best = a + int(k[0])
        return best

    # -- ledger helpers -------------------------------------------------------------------------

    def event(self, j: int, kind: EventKind, position: str, **kw: Any) -> None:
        self.events.append(Event(t=self.now, kind=kind, position=position, mark=float(self.mark[j]),
                                 last=float(self.last[j]), **kw))

    def mark_of(self, p: _Pos, j: int) -> float:
        """The position's mark at tick j: the path's for its symbol, the account's mark otherwise."""
        return float(self.mark[j]) if p.on_path else p.const_mark

    def last_of(self, p: _Pos, j: int) -> float:
        """Where the book is for the position at tick j (last price; off the path: its mark)."""
        return float(self.last[j]) if p.on_path else p.const_mark

    def fee_rate(self, p: _Pos) -> float:
        return self.profile.liquidation_fee(p.symbol)

    def round_lot(self, qty: float, *, up: bool = False) -> float:
        return float(round_to_lot(qty, self.lot, up=up))

    def close_in_book(self, j: int, p: _Pos, qty: float, reason: str, fee_rate: float) -> tuple[float, float, float, float]:
        """Close up to ``qty`` of ``p`` in the book at the last price: (filled, avg price, pnl, fee)."""
        fill = self.book.fill(side=-p.sign, qty=min(qty, p.qty), price=self.last_of(p, j))
        if fill.qty <= 0:
            return 0.0, math.nan, 0.0, 0.0
        pnl = float(unrealized_pnl(side=p.sign, qty=fill.qty, entry=p.entry, mark=fill.price))
        t = self.now
        self.ledger.transfer(t, MARKET, p.party, pnl, f"{reason}: {p.label} {fill.qty:g} @ {fill.price:.6g}")
        fee = min(fee_rate * fill.qty * fill.price, max(self.ledger.balance(p.party), 0.0))
        self.ledger.transfer(t, p.party, FEES, fee, f"{reason} fee: {p.label}")
        self.take(p, fill.qty, reason)
        return fill.qty, fill.price, pnl, fee

    def take(self, p: _Pos, qty: float, how: str) -> None:
        """Reduce ``p`` by ``qty`` (a remainder below a millionth of a lot is float dust: gone)."""
        p.qty = max(p.qty - qty, 0.0)
        if p.qty < self.lot * 1e-6:
            p.qty = 0.0
            p.closed = f"{how} at t = {self.now:g} s"

    # -- settling a close: the book as far as the fund covers, then ADL ----------------------------

    def liability(self, j: int, p: _Pos, x: float, adl_qty: float, bp: float, fee_rate: float,
                  settles: bool) -> float:
        """What closing ``x`` of ``p`` in the book (and ``adl_qty`` at its bankruptcy price ``bp``)
        asks of the insurance fund.

        The gap past bankruptcy of the units sold in the book, ``x * max(s * (bp - fill), 0)``,
        and, when the party is settled right after (``settles``: an isolated margin, or a cross
        wallet whose last position goes), whatever the close leaves it short: balance + realised
        PnL - fee < 0 (a fee, or an earlier debt of the wallet, can make that more than the gap).
        """
        b = self.ledger.balance(p.party)
        r = gap = fee = 0.0
        if x > 0:
            price = self.book.price_for(side=-p.sign, qty=x, price=self.last_of(p, j))
            r = float(unrealized_pnl(side=p.sign, qty=x, entry=p.entry, mark=price))
            fee = min(fee_rate * x * price, max(b + r, 0.0))
            gap = x * max(p.sign * (bp - price), 0.0) if math.isfinite(bp) else 0.0
        if adl_qty > 0:
            r += float(unrealized_pnl(side=p.sign, qty=adl_qty, entry=p.entry, mark=bp))
        return max(gap, -(b + r - fee) if settles else 0.0, 0.0)

    @staticmethod
    def largest(ok: Any, hi: float) -> float:
        """The largest y in [0, hi] with ``ok(y)``, by bisection (``ok`` holds up to a point)."""
        lo = 0.0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if ok(mid):
                lo = mid
            else:
                hi = mid
        return lo

    def settle_close(self, j: int, p: _Pos, want: float, bp: float, fee_rate: float, reason: str,
                     kind: EventKind, detail: Mapping[str, float], *, settles: bool, show_unfilled: bool = False,
                     always_event: bool = True) -> tuple[float, float]:
        """Close ``want`` of ``p``; every stage that closes a trader position comes here.

        The rule (DOMAIN.md §4.5-§4.6): the book takes the order (IOC) as long as what it asks of the
        insurance fund (:meth:`liability`: the gap past the bankruptcy price ``bp``) is within the
        fund. When it is not and an eligible counterparty exists, the book closes only the
        largest quantity the fund can cover (bisection on the book's fill curve, rounded down to the
        lot) and the rest is closed at ``bp`` against the ranked counterparties (:meth:`adl`). Only
        when no eligible counterparty is left does the rest fill in the book and the fund pay past
        its balance. Returns (quantity closed in all, average book price or NaN).
        """
        fund = self.ledger.balance(FUND)
        want = min(want, p.qty)
        fill = self.book.fill(side=-p.sign, qty=want, price=self.last_of(p, j))
        x = fill.qty
        adl_qty = 0.0
        if (self.liability(j, p, x, 0.0, bp, fee_rate, settles) > fund + self.dust
                and self.adl_pool(p, self.mark_of(p, j), bp)):
            x = self.round_lot(self.largest(
                lambda y: self.liability(j, p, y, want - y, bp, fee_rate, settles) <= fund, x))
            adl_qty = want - x
        before = p.qty
        filled, price, pnl, fee = self.close_in_book(j, p, x, reason, fee_rate) if x > 0 else (0.0, math.nan, 0.0, 0.0)
        if filled > 0 or (always_event and adl_qty <= 0):
            extra = {"unfilled": before - filled - adl_qty} if show_unfilled else {}
            self.event(j, kind, p.label, price=price, qty=filled, amount=pnl, detail={**detail, "fee": fee, "bankruptcy_price": bp, **extra})
        if adl_qty > 0:
            left = self.adl(j, p, adl_qty, bp)
            if left > 0:
                # no eligible counterparty is left: the rest goes to the book after all and the fund
                # pays the gap even past its balance (shown as a negative fund)
                more, mprice, mpnl, mfee = self.close_in_book(j, p, left, reason, fee_rate)
                if more > 0:
                    extra = {"unfilled": left - more} if show_unfilled else {}
                    self.event(j, kind, p.label, price=mprice, qty=more, amount=mpnl,
                               detail={**detail, "fee": mfee, "bankruptcy_price": bp, **extra})
                    price = mprice if filled <= 0 else (filled * price + more * mprice) / (filled + more)
        return before - p.qty, price

    # -- the waterfall --------------------------------------------------------------------------

    def liquidate(self, j: int, key: str) -> None:
        aq, alive = self.quote(j)
        equity, mm, liq = self.scope_state(aq, alive, key)
        what = self.wants(key, j, equity, mm, liq)
        if what is None:
            return
        members = sorted(self.scope_positions(key), key=lambda p: -p.qty * self.mark_of(p, j))
        quotes = {id(p): self.position_quote(aq, alive, p) for p in members}
        sc = self.scope(key)
        self.event(j, EventKind.LIQUIDATION_TRIGGERED, key, price=quotes[id(members[0])].liquidation_price,
                   qty=math.fsum(p.qty for p in members), amount=equity - mm,
                   detail={"equity": equity, "maintenance_margin": mm,
                           "unrealized_pnl": math.fsum(quotes[id(p)].unrealized_pnl for p in members),
                           "bankruptcy_price": quotes[id(members[0])].bankruptcy_price})
        n_orders = sum(len(p.orders) for p in members)
        for p in members:
            p.orders.clear()
        self.event(j, EventKind.ORDERS_CANCELLED, key, qty=float(n_orders))
        if what == "backstop":
            self.backstop(j, key, members, quotes)
            return
        rule = self.rules.partial_liquidation
        notional = math.fsum(p.qty * self.mark_of(p, j) for p in members)
        if (rule is PartialLiquidation.FRACTION and not sc.partial_done
                and notional > self.rules.partial_min_notional):
            self.partial_fraction(j, key, members, quotes)
            return
        if rule is PartialLiquidation.TIER_STEP_DOWN and self.step_down(j, key, members, quotes):
            return
        self.whole(j, key)

    def record(self, j: int, p: _Pos, q: Any, kind: str, qty: float, fill: float) -> None:
        self.records.append(LiquidationRecord(
            t=self.now, position=p.label, kind=kind, qty=qty, entry_price=p.entry,
            mark_at_trigger=self.mark_of(p, j), liquidation_price=q.liquidation_price,
            bankruptcy_price=q.bankruptcy_price, fill_price=fill))

    def settle_party(self, j: int, party: str, position: str) -> None:
        """The fund pays what ``party`` is short -- unless it is the cross wallet and cross positions
        are still open: their equity (wallet + uPnL) carries the debt until the scope is closed."""
        if party == WALLET and any(p.mode is MarginMode.CROSS for p in self.alive()):
            return
        self.cover_negative(j, party, position)

    def cover_negative(self, j: int, party: str, position: str) -> None:
        bal = self.ledger.balance(party)
        if bal < 0:
            self.ledger.transfer(self.now, FUND, party, -bal, f"fund pays the gap past bankruptcy: {position}")
            if -bal > self.dust:
                self.event(j, EventKind.INSURANCE_FUND_PAYOUT, position, amount=-bal,
                           detail={"fund_after": self.ledger.balance(FUND)})

    def partial_fraction(self, j: int, key: str, members: list[_Pos], quotes: dict[int, Any]) -> None:
        sc = self.scope(key)
        for p in self.close_order(j, key):
            x = max(self.round_lot(p.qty * self.rules.partial_fraction), self.lot)
            q = quotes[id(p)]
            closed, price = self.settle_close(
                j, p, x, self.bankruptcy_now(j, p), self.fee_rate(p), "partial liquidation",
                EventKind.PARTIAL_LIQUIDATION, {"fraction": self.rules.partial_fraction,
                                                "cooldown_until": float(self.t[j]) + self.rules.cooldown_s},
                settles=p.party != WALLET)
            self.record(j, p, q, "partial", closed, price)
        self.settle_party(j, members[0].party, key)
        sc.partial_done = True
        sc.cooldown_until = float(self.t[j]) + self.rules.cooldown_s
        self.after_book(j, key)

    def step_down(self, j: int, key: str, members: list[_Pos], quotes: dict[int, Any]) -> bool:
        """Tier step-down; True when the scope ended compliant (False: liquidate whole)."""
        for _ in range(64):
            best = None
            for p in self.scope_positions(key):
                tiers = self.profile.effective_tiers(p.symbol)
                price = p.entry if self.rules.mm_basis is MMBasis.ENTRY else self.mark_of(p, j)
                k = int(tiers.index(p.qty * price))
                if k > 0 and (best is None or p.qty * price > best[0]):
                    best = (p.qty * price, p, float(tiers.floor[k]), price)
            if best is None:
                return False
            _, p, floor, price = best
            target = floor / price
            x = self.round_lot(p.qty - target, up=True)
            x = min(max(x, self.lot), p.qty)
            q = quotes.get(id(p))
            if q is None:
                aq, alive = self.quote(j)
                q = self.position_quote(aq, alive, p)
            closed, fprice = self.settle_close(j, p, x, self.bankruptcy_now(j, p), self.fee_rate(p), "tier step-down",
                                               EventKind.PARTIAL_LIQUIDATION, {"target_notional": floor},
                                               settles=p.party != WALLET)
            self.record(j, p, q, "partial", closed, fprice)
            self.settle_party(j, p.party, p.label)
            quotes.pop(id(p), None)
            if not self.scope_positions(key):
                return True
            if closed <= 0:
                return False
            aq, alive = self.quote(j)
            if not self.scope_state(aq, alive, key)[2]:
                return True
        return False

    def whole(self, j: int, key: str) -> None:
        aq, alive = self.quote(j)
        members = self.close_order(j, key)
        party = members[0].party
        for p in members:
            q = self.position_quote(aq, alive, p)
            bp = self.bankruptcy_now(j, p)
            closed, fprice = self.settle_close(j, p, p.qty, bp, self.fee_rate(p), "liquidation fill",
                                               EventKind.LIQUIDATION_FILL, {}, settles=True,
                                               show_unfilled=True, always_event=False)
            self.record(j, p, q, "whole", closed, fprice)
        if not self.scope_positions(key):
            bal = self.ledger.balance(party)
            t = self.now
            if bal > 0:
                self.ledger.transfer(t, party, FUND, bal, f"surplus over bankruptcy to the fund: {key}")
                if bal > self.dust:
                    self.event(j, EventKind.INSURANCE_FUND_INFLOW, key, amount=bal,
                               detail={"fund_after": self.ledger.balance(FUND)})
            else:
                self.cover_negative(j, party, key)
        else:
            self.settle_party(j, party, key)
            self.after_book(j, key)

    def close_order(self, j: int, key: str) -> list[_Pos]:
        """The scope's positions in the order a whole liquidation closes them: those in profit at the
        mark first (their gain backs the losers' settlement), then by notional, largest first."""
        def upnl(p: _Pos) -> float:
            return float(unrealized_pnl(side=p.sign, qty=p.qty, entry=p.entry, mark=self.mark_of(p, j)))
        return sorted(self.scope_positions(key), key=lambda p: (upnl(p) <= 0, -p.qty * self.mark_of(p, j)))

    def bankruptcy_now(self, j: int, p: _Pos) -> float:
        """``p``'s bankruptcy price from the engine with the balances as they are now."""
        aq, alive = self.quote(j)
        return float(self.position_quote(aq, alive, p).bankruptcy_price)

    def after_book(self, j: int, key: str) -> None:
        """Backstop a remainder the book could not absorb if equity is below the backstop line."""
        if not self.backstop_on() or not self.scope_positions(key):
            return
        aq, alive = self.quote(j)
        e, m, liq = self.scope_state(aq, alive, key)
        if liq and e < (self.rules.backstop_mm_fraction or 0.0) * m:
            members = self.scope_positions(key)
            self.backstop(j, key, members, {id(p): self.position_quote(aq, alive, p) for p in members})

    def backstop(self, j: int, key: str, members: list[_Pos], quotes: dict[int, Any]) -> None:
        self.ledger.ensure(VAULT)
        t = self.now
        for p in members:
            q = quotes[id(p)]
            self.event(j, EventKind.BACKSTOP, p.label, price=q.bankruptcy_price, qty=p.qty,
                       detail={"equity": q.equity, "maintenance_margin": q.maintenance_margin})
            self.record(j, p, q, "backstop", p.qty, math.nan)
            self.take(p, p.qty, "taken over by the backstop")
        party = members[0].party
        bal = self.ledger.balance(party)
        self.ledger.transfer(t, party, VAULT, bal, f"backstop: the liquidator vault takes over {key} and its collateral")

    def adl_pool(self, p: _Pos, mark: float, bp: float) -> list[tuple[_Cp, float]]:
        """Counterparties ADL may close against ``p`` at its bankruptcy price ``bp``, in order, with
        their scores (:func:`adl_ranking`: in profit at the mark and solvent at ``bp``).

        The scenario's counterparties trade the path's symbol; a position on another symbol has none.
        """
        if not p.on_path or not self.cps or not math.isfinite(bp):
            return []
        order, scores, eligible = adl_ranking(
            sides=[c.spec.side.sign for c in self.cps], qtys=[c.qty for c in self.cps],
            entries=[c.spec.entry for c in self.cps],
            margins=[self.ledger.balance(c.spec.party) for c in self.cps], mark=mark, against=p.sign,
            close_price=bp)
        return [(self.cps[k], float(scores[k])) for k in order if eligible[k]]

    def adl(self, j: int, p: _Pos, qty: float, bp: float) -> float:
        """Close ``qty`` of ``p`` at its bankruptcy price against ranked opposite-side counterparties.

        Returns the quantity no counterparty could take.
        """
        mark = self.mark_of(p, j)
        t = self.now
        left = qty
        for c, score in self.adl_pool(p, mark, bp):
            if left <= 0 or p.qty <= 0:
                break
            z = min(left, c.qty, p.qty)
            own = float(unrealized_pnl(side=p.sign, qty=z, entry=p.entry, mark=bp))
            self.ledger.transfer(t, MARKET, p.party, own, f"adl close at bankruptcy: {p.label} {z:g} @ {bp:.6g}")
            theirs = float(unrealized_pnl(side=c.spec.side.sign, qty=z, entry=c.spec.entry, mark=bp))
            self.ledger.transfer(t, MARKET, c.spec.party, theirs,
                                 f"adl: {c.spec.name} closed {z:g} @ {bp:.6g} against {p.label}")
            c.qty -= z
            left -= z
            self.take(p, z, "auto-deleveraged")
            self.event(j, EventKind.ADL, c.spec.name, price=bp, qty=z, amount=theirs,
                       detail={"rank_score": score, "against": float(p.index)})
        return max(left, 0.0)

    # -- trader actions -------------------------------------------------------------------------

    def act(self, j: int, k: int, a: Action) -> None:
        """Carry out action ``k`` at its own time, at the prices of tick ``j``; an action whose
        position is already gone says so (``action_skipped``) instead of vanishing."""
        self.now = a.t
        p = self.positions[a.position]
        if p.qty <= 0:
            self.event(j, EventKind.ACTION_SKIPPED, p.label, detail={"action": float(k)},
                       note=f"{a.kind.value}: {p.label} is already closed ({p.closed or 'before'})")
            return
        self.apply(j, k, a, p)

    def apply(self, j: int, k: int, a: Action, p: _Pos) -> None:
        where = f"simulation.actions[{k}]"
        t = self.now
        if a.kind is ActionKind.ADD_MARGIN:
            dst = p.party
            self.ledger.transfer(t, SPOT, dst, a.value, f"add margin: {p.label}")
            self.event(j, EventKind.MARGIN_ADDED, p.label, amount=a.value,
                       detail={"balance_after": self.ledger.balance(dst)})
        elif a.kind is ActionKind.CHANGE_LEVERAGE:
            old = p.leverage
            try:
                validate_position(self.profile, Position(
                    symbol=p.symbol, side=Side.LONG if p.sign > 0 else Side.SHORT, qty_base=p.qty,
                    entry_price=p.entry, leverage=a.value, mode=p.mode))
            except InvalidInputError as exc:
                raise InvalidInputError(f"{where}.leverage", exc.reason) from None
            if p.mode is MarginMode.ISOLATED:
                delta = p.qty * p.entry / a.value - p.qty * p.entry / old
                if delta > self.ledger.balance(WALLET) + 1e-9:
                    raise InvalidInputError(f"{where}.leverage",
                                            f"{a.value:g}x needs {delta:,.2f} more margin but the wallet holds "
                                            f"{self.ledger.balance(WALLET):,.2f}")
                if -delta >= self.ledger.balance(p.party):
                    raise InvalidInputError(f"{where}.leverage",
                                            f"{a.value:g}x would take out more margin than the position holds")
                self.ledger.transfer(t, WALLET, p.party, delta, f"change leverage {old:g}x -> {a.value:g}x: {p.label}")
            else:
                delta = 0.0
            p.leverage = a.value
            self.event(j, EventKind.LEVERAGE_CHANGED, p.label, qty=a.value, amount=delta, detail={"from": old})
        elif a.kind is ActionKind.REDUCE:
            self.reduce(j, p, min(a.value, p.qty), "reduce")
        else:
            p.orders.append(_Order(a.kind, a.value, a.qty))
            self.event(j, EventKind.ORDER_PLACED, p.label, price=a.value, qty=p.qty if a.qty is None else a.qty,
                       detail={"kind_sl": float(a.kind is ActionKind.STOP_LOSS)}, note=a.kind.value)

    def reduce(self, j: int, p: _Pos, qty: float, why: str) -> None:
        last_cross = p.mode is MarginMode.CROSS and qty >= p.qty and not any(
            o is not p and o.mode is MarginMode.CROSS for o in self.alive())
        self.settle_close(j, p, qty, self.bankruptcy_now(j, p), self.rules.taker_fee, why,
                          EventKind.POSITION_REDUCED, {}, settles=p.mode is MarginMode.ISOLATED or last_cross)
        bal = self.ledger.balance(p.party)
        if p.qty == 0 and p.mode is MarginMode.ISOLATED and bal > 0:
            # a closed isolated position returns what is left of its margin to the wallet
            self.ledger.transfer(self.now, p.party, WALLET, bal, f"margin back to the wallet: {p.label} closed")
        else:
            # a close past bankruptcy is the fund's to cover, as in a liquidation (a cross wallet only
            # once its last position is gone)
            self.settle_party(j, p.party, p.label)
        if p.qty == 0 and p.orders:
            # the position is gone: its other orders have nothing left to close
            self.event(j, EventKind.ORDERS_CANCELLED, p.label, qty=float(len(p.orders)))
            p.orders.clear()

    def stops_at(self, j: int) -> bool:
        """Fire the orders whose trigger the last price has reached; True if any fired."""
        fired = False
        self.now = float(self.t[j])
        last = float(self.last[j])
        for p in self.alive():
            if not p.on_path:
                continue
            for o in list(p.orders):
                below = (o.kind is ActionKind.STOP_LOSS) == (p.sign > 0)
                if (last <= o.price) if below else (last >= o.price):
                    p.orders.remove(o)
                    fired = True
                    self.event(j, EventKind.STOP_TRIGGERED, p.label, price=o.price,
                               qty=p.qty if o.qty is None else min(o.qty, p.qty), detail={"kind_sl": float(
                                   o.kind is ActionKind.STOP_LOSS)})
                    self.reduce(j, p, p.qty if o.qty is None else min(o.qty, p.qty), o.kind.value)
                    if p.qty == 0:
                        break
        return fired

    # -- main loop ------------------------------------------------------------------------------

    def run(self) -> None:
        n = len(self.path)
        # An action goes to the first tick at or after its time. One exactly on a tick comes after
        # the liquidation engine's check there; one between two ticks happened before the later
        # tick, so it comes before that tick's check, at the earlier tick's prices.
        slots = [int(np.searchsorted(self.t, a.t, side="left")) for _, a in self.actions]
        between = [bool(self.t[j] != a.t) for j, (_, a) in zip(slots, self.actions, strict=True)]
        ptr = 0
        i = 0
        while i < n:
            while ptr < len(self.actions) and slots[ptr] == i and between[ptr]:
                self.act(i - 1, *self.actions[ptr])
                ptr += 1
            checked = False
            if ptr < len(self.actions) and slots[ptr] == i:
                self.check_all(i)
                checked = True
                while ptr < len(self.actions) and slots[ptr] == i:
                    self.act(i, *self.actions[ptr])
                    ptr += 1
            if not self.alive():
                break
            seg_end = slots[ptr] if ptr < len(self.actions) else n
            seg_end = min(max(seg_end, i + 1), n)
            j_stop = self.windowed(self.first_stop, i, seg_end)
            liq = self.windowed(self.first_liquidation, i, seg_end if j_stop is None else j_stop + 1,
                                skip_first=checked)
            j_liq = None if liq is None else liq[0]
            cands = [x for x in (j_stop, j_liq) if x is not None]
            if not cands:
                i = seg_end
                continue
            j = min(cands)
            self.check_all(j)  # the margin check comes first: a liquidation cancels the stops
            if j_stop == j and self.stops_at(j):
                self.check_all(j)  # a stop's market order can itself leave a scope liquidatable
            i = j + 1
        for q in range(ptr, len(self.actions)):  # every position is gone: each later action says so
            self.act(slots[q] - between[q], *self.actions[q])

    def windowed(self, search: Any, a: int, b: int, **kw: Any) -> Any:
        """Run a vectorised search over [a, b) in windows that double from 4,096 ticks.

        One event costs numpy work proportional to the distance to it, not to the rest of the path,
        so many events on a long path stay cheap; a path with one event costs one pass overall.
        """
        w = 4096
        start = a
        while start < b:
            end = min(b, start + w)
            found = search(start, end, **kw)
            if found is not None:
                return found
            kw.pop("skip_first", None)  # only the very first tick may have been checked already
            start = end
            w *= 2
        return None

    def check_all(self, j: int) -> None:
        self.now = float(self.t[j])
        for key in self.scope_keys():
            if self.scope_positions(key):
                self.liquidate(j, key)


def simulate(profile: Profile, account: Account, path: PricePath, *, symbol: str | None = None,
             book: BookModel | None = None, insurance_fund: float = 0.0,
             counterparties: Sequence[Counterparty] = (), actions: Sequence[Action] = ()) -> SimulationResult:
    """Play the liquidation waterfall for ``account`` over ``path`` (the path's symbol: ``symbol``).

    Positions on other symbols stay at their account marks. Raises :class:`InvalidInputError` for an
    account the profile refuses (via :func:`core.quote.quote_account`) or an action that cannot be
    carried out (its field path named).

    Examples
    --------
    The source FAQ's 5 BTC long at 68,000, 10x, classic rules; the mark gaps to 61,500 (below the
    liquidation price 61,880 but above the bankruptcy price 61,200), the book fills at 61,500:
    the trader loses the 34,000 margin, the market takes 5 x 6,500 = 32,500, the fund 1,500.

    >>> from pathlib import Path
    >>> from core.profiles import load_profile
    >>> from core.paths import exchanges_dir
    >>> prof = load_profile(exchanges_dir() / "classic.toml")
    >>> pos = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=5, entry_price=68_000, leverage=10)
    >>> acct = Account(profile_id="classic", positions=(pos,))
    >>> res = simulate(prof, acct, PricePath.from_mark([0, 1], [68_000, 61_500]))
    >>> res.party("insurance_fund").end, res.party("trader.isolated.BTCUSDT").end
    (1500.0, 0.0)
    """
    if not account.positions:
        raise InvalidInputError("account.positions", "the simulation needs at least one position")
    sym = symbol or account.positions[0].symbol
    try:
        profile.contract(sym)
    except InvalidInputError as exc:
        raise InvalidInputError("simulation.symbol" if symbol else "account.positions[0].symbol",
                                exc.reason) from None
    try:  # refuse what the exchange refuses, naming the position's field
        quote_account(profile, account.with_mark(sym, float(path.mark[0])))
    except InvalidInputError as exc:
        field_ = exc.field if exc.field.startswith("positions[") else f"positions[0].{exc.field}"
        raise InvalidInputError(f"account.{field_}", exc.reason) from None
    t0, t1 = float(path.t[0]), float(path.t[-1])
    for k, a in enumerate(actions):
        where = f"simulation.actions[{k}]"
        if not 0 <= a.position < len(account.positions):
            raise InvalidInputError(f"{where}.position", f"must be 0-{len(account.positions) - 1}, got {a.position}")
        if not t0 <= a.t <= t1:
            raise InvalidInputError(f"{where}.t", f"{a.t:g} s is {'before the start' if a.t < t0 else 'after the end'}"
                                                  f" of the path ({t0:g} .. {t1:g} s)")
        held = account.positions[a.position].symbol
        if a.kind in (ActionKind.STOP_LOSS, ActionKind.TAKE_PROFIT) and held != sym:
            raise InvalidInputError(f"{where}.position", f"position {a.position} is on {held}, whose price the "
                                                         f"path ({sym}) does not move: a {a.kind.value} order on "
                                                         f"it could never fire")
    names = [c.name for c in counterparties]
    if len(set(names)) != len(names):
        raise InvalidInputError("simulation.counterparties", "names must be unique")
    run = _Run(profile, account, path, symbol=sym, book=book or BookModel(), insurance_fund=insurance_fund,
               counterparties=counterparties, actions=actions)
    run.run()
    return SimulationResult(path=path, symbol=sym, profile_id=profile.id, events=tuple(run.events),
                            transfers=run.ledger.transfers, parties=run.ledger.parties(),
                            liquidations=tuple(run.records), tick_size=profile.contract(sym).tick_size,
                            open_positions=tuple(OpenPosition(p.label, p.party, Side.LONG if p.sign > 0 else Side.SHORT,
                                                              p.qty, p.entry) for p in run.alive()))


# ------------------------------------------------------------------------------ the file's section


@dataclass(frozen=True, slots=True)
class SimulationSpec:
    """The ``simulation`` section of a scenario file, validated. ``path`` stays plain data (built by
    :func:`build_path`), so that a spec round-trips through :func:`simulation_to_dict` unchanged."""

    path: Mapping[str, Any]
    symbol: str | None = None
    book: BookModel = field(default_factory=BookModel)
    insurance_fund: float = 0.0
    counterparties: tuple[Counterparty, ...] = ()
    actions: tuple[Action, ...] = ()


_PATH_KINDS: Final = ("gbm", "linear_crash", "gap", "points", "csv")
_PATH_KEYS: Final = {
    "gbm": {"s0", "mu", "sigma", "dt", "n", "seed", "jumps"},
    "linear_crash": {"s0", "s1", "t_start", "t_end", "dt", "n"},
    "gap": {"s0", "s1", "t_gap", "dt", "n"},
    "points": {"t", "mark", "last", "dt"},
    "csv": {"file"},
}
_COMMON_PATH_KEYS: Final = {"kind", "wick", "mark_window_s"}


def _need(d: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise InvalidInputError(f"{where}.{key}", "missing")
    return d[key]


def _obj(v: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise InvalidInputError(where, f"expected an object, got {type(v).__name__}")
    return v


def _no_unknown(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise InvalidInputError(f"{where}.{extra[0]}", f"unknown key; known keys: {', '.join(sorted(allowed))}")


def _series(v: Any, where: str) -> list[float]:
    if not isinstance(v, list) or not v:
        raise InvalidInputError(where, "expected a non-empty list of numbers")
    return [number(f"{where}[{i}]", x) for i, x in enumerate(v)]


def _validate_path(raw: Any) -> dict[str, Any]:
    where = "simulation.path"
    d = _obj(raw, where)
    kind = d.get("kind")
    if kind not in _PATH_KINDS:
        raise InvalidInputError(f"{where}.kind", f"expected one of {', '.join(_PATH_KINDS)}, got {kind!r}")
    _no_unknown(d, _PATH_KEYS[kind] | _COMMON_PATH_KEYS, where)
    w = f"{where}."
    if kind == "gbm":
        number(w + "s0", _need(d, "s0", where), lo=0, lo_open=True)
        number(w + "mu", d.get("mu", 0.0))
        number(w + "sigma", _need(d, "sigma", where), lo=0, lo_open=True)
        number(w + "dt", _need(d, "dt", where), lo=0, lo_open=True)
        number(w + "n", _need(d, "n", where), lo=1, integer=True)
        number(w + "seed", d.get("seed", 0), lo=0, integer=True)
        if "jumps" in d:
            j = _obj(d["jumps"], w + "jumps")
            _no_unknown(j, {"rate", "mean", "std"}, w + "jumps")
            number(w + "jumps.rate", _need(j, "rate", w + "jumps"), lo=0)
            number(w + "jumps.mean", _need(j, "mean", w + "jumps"))
            number(w + "jumps.std", j.get("std", 0.0), lo=0)
    elif kind in ("linear_crash", "gap"):
        number(w + "s0", _need(d, "s0", where), lo=0, lo_open=True)
        number(w + "s1", _need(d, "s1", where), lo=0, lo_open=True)
        number(w + "dt", _need(d, "dt", where), lo=0, lo_open=True)
        n = number(w + "n", _need(d, "n", where), lo=1, integer=True)
        if kind == "gap":
            number(w + "t_gap", _need(d, "t_gap", where), lo=0)
        else:
            t0 = number(w + "t_start", _need(d, "t_start", where), lo=0)
            number(w + "t_end", _need(d, "t_end", where), lo=t0, lo_open=True)
        if n > 50_000_000:
            raise InvalidInputError(w + "n", f"must be <= 50,000,000, got {n:g}")
    elif kind == "points":
        t = _series(_need(d, "t", where), w + "t")
        m = _series(_need(d, "mark", where), w + "mark")
        if len(m) != len(t):
            raise InvalidInputError(w + "mark", f"expected {len(t)} numbers (one per time), got {len(m)}")
        if "last" in d:
            la = _series(d["last"], w + "last")
            if len(la) != len(t):
                raise InvalidInputError(w + "last", f"expected {len(t)} numbers (one per time), got {len(la)}")
        for k in range(1, len(t)):
            if not t[k] > t[k - 1]:
                raise InvalidInputError(f"{w}t[{k}]", f"times must increase, got {t[k]:g} after {t[k - 1]:g}")
        for name in ("mark", "last"):
            for k, v in enumerate(d.get(name, [])):
                if v <= 0:
                    raise InvalidInputError(f"{w}{name}[{k}]", f"must be > 0, got {v:g}")
        if "dt" in d:
            number(w + "dt", d["dt"], lo=0, lo_open=True)
    else:
        f = d.get("file")
        if not isinstance(f, str) or not f:
            raise InvalidInputError(w + "file", f"expected a CSV file name, got {f!r}")
    if "wick" in d:
        wk = _obj(d["wick"], w + "wick")
        _no_unknown(wk, {"t_start", "duration", "price"}, w + "wick")
        number(w + "wick.t_start", _need(wk, "t_start", w + "wick"))
        number(w + "wick.duration", _need(wk, "duration", w + "wick"), lo=0, lo_open=True)
        number(w + "wick.price", _need(wk, "price", w + "wick"), lo=0, lo_open=True)
    if "mark_window_s" in d:
        number(w + "mark_window_s", d["mark_window_s"], lo=0, lo_open=True)
    return dict(d)


def build_path(spec: Mapping[str, Any], *, base_dir: Path | str | None = None) -> PricePath:
    """Turn a validated ``simulation.path`` mapping into a :class:`PricePath`.

    The generated series is the **index** (and the last price); a ``wick`` replaces the last price
    for a while; with ``mark_window_s`` the mark is the index plus the moving average of the basis
    (``core.prices.mark_from_index``), otherwise the mark is the index itself. GBM ``mu`` and
    ``sigma`` are annualised (365-day year); ``dt`` and every time are seconds.
    """
    d = _validate_path(spec)
    kind = d["kind"]
    if kind == "gbm":
        jumps = None
        if "jumps" in d:
            j = d["jumps"]
            jumps = Jumps(rate=j["rate"] / SECONDS_PER_YEAR, mean=j["mean"], std=j.get("std", 0.0))
        n = int(d["n"])
        prices = gbm_path(s0=d["s0"], mu=d.get("mu", 0.0) / SECONDS_PER_YEAR,
                          sigma=d["sigma"] / math.sqrt(SECONDS_PER_YEAR), dt=d["dt"], n=n,
                          seed=int(d.get("seed", 0)), jumps=jumps)
        base = PricePath.from_mark(time_grid(n=n, dt=d["dt"]), prices)
    elif kind == "linear_crash":
        n = int(d["n"])
        base = PricePath.from_mark(time_grid(n=n, dt=d["dt"]),
                                   linear_crash(s0=d["s0"], s1=d["s1"], t_start=d["t_start"], t_end=d["t_end"],
                                                dt=d["dt"], n=n))
    elif kind == "gap":
        n = int(d["n"])
        base = PricePath.from_mark(time_grid(n=n, dt=d["dt"]),
                                   gap(s0=d["s0"], s1=d["s1"], t_gap=d["t_gap"], dt=d["dt"], n=n))
    elif kind == "points":
        base = path_from_points(d["t"], d["mark"], d.get("last"), dt=d.get("dt"))
    else:
        p = Path(d["file"])
        if not p.is_absolute() and base_dir is not None:
            p = Path(base_dir) / p
        try:
            base = read_price_csv(p, name=d["file"])
        except InvalidInputError as exc:
            raise InvalidInputError("simulation.path.file", f"{exc.field}: {exc.reason}") from None
    index = base.mark
    last = base.last
    if "wick" in d:
        wk = d["wick"]
        last = with_last_wick(base, t_start=wk["t_start"], duration=wk["duration"], price=wk["price"]).last
    if "mark_window_s" in d:
        return mark_from_index(base.t, index, last, window_s=d["mark_window_s"])
    return PricePath(t=base.t, mark=index, last=last)


def simulation_from_dict(raw: Any) -> SimulationSpec:
    """Validate a scenario's ``simulation`` section; every problem names its JSON path.

    >>> simulation_from_dict({"path": {"kind": "gbm", "s0": 100, "sigma": -1, "dt": 1, "n": 10}})
    Traceback (most recent call last):
    ...
    core.errors.InvalidInputError: simulation.path.sigma: must be > 0, got -1
    """
    where = "simulation"
    d = _obj(raw, where)
    _no_unknown(d, {"path", "symbol", "book", "insurance_fund", "counterparties", "actions"}, where)
    path = _validate_path(_need(d, "path", where))
    symbol = d.get("symbol")
    if symbol is not None and (not isinstance(symbol, str) or not symbol):
        raise InvalidInputError("simulation.symbol", f"expected a symbol such as 'BTCUSDT', got {symbol!r}")
    book = BookModel()
    if "book" in d:
        b = _obj(d["book"], "simulation.book")
        _no_unknown(b, {"depth", "half_spread", "max_slippage"}, "simulation.book")
        depth = b.get("depth")
        book = BookModel(
            depth=math.inf if depth is None else number("simulation.book.depth", depth, lo=0, lo_open=True),
            half_spread=number("simulation.book.half_spread", b.get("half_spread", 0.0), lo=0, hi=0.5, hi_open=True),
            max_slippage=number("simulation.book.max_slippage", b.get("max_slippage", 0.05), lo=0, lo_open=True, hi=1, hi_open=True),
        )
    fund = number("simulation.insurance_fund", d.get("insurance_fund", 0.0), lo=0)
    cps_raw = d.get("counterparties", [])
    if not isinstance(cps_raw, list):
        raise InvalidInputError("simulation.counterparties", "expected a list")
    cps = []
    for i, c in enumerate(cps_raw):
        w = f"simulation.counterparties[{i}]"
        c = _obj(c, w)
        _no_unknown(c, {"name", "side", "qty", "entry", "margin"}, w)
        name = c.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"{w}.name", f"expected a non-empty name, got {name!r}")
        if c.get("side") not in ("long", "short"):
            raise InvalidInputError(f"{w}.side", f"expected 'long' or 'short', got {c.get('side')!r}")
        cps.append(Counterparty(name=name, side=Side(c["side"]),
                                qty=number(f"{w}.qty", _need(c, "qty", w), lo=0, lo_open=True),
                                entry=number(f"{w}.entry", _need(c, "entry", w), lo=0, lo_open=True),
                                margin=number(f"{w}.margin", _need(c, "margin", w), lo=0, lo_open=True)))
    if len({c.name for c in cps}) != len(cps):
        raise InvalidInputError("simulation.counterparties", "names must be unique")
    acts_raw = d.get("actions", [])
    if not isinstance(acts_raw, list):
        raise InvalidInputError("simulation.actions", "expected a list")
    acts = []
    for i, a in enumerate(acts_raw):
        w = f"simulation.actions[{i}]"
        a = _obj(a, w)
        try:
            kind = ActionKind(str(a.get("kind")))
        except ValueError:
            raise InvalidInputError(f"{w}.kind", f"expected one of {', '.join(k.value for k in ActionKind)}, "
                                                 f"got {a.get('kind')!r}") from None
        value_key = {ActionKind.ADD_MARGIN: "amount", ActionKind.CHANGE_LEVERAGE: "leverage",
                     ActionKind.REDUCE: "qty"}.get(kind, "price")
        allowed = {"t", "kind", "position", value_key} | ({"qty"} if value_key == "price" else set())
        _no_unknown(a, allowed, w)
        t = number(f"{w}.t", _need(a, "t", w), lo=0)
        pos = int(number(f"{w}.position", a.get("position", 0), lo=0, integer=True))
        if kind is ActionKind.CHANGE_LEVERAGE:
            value = number(f"{w}.{value_key}", _need(a, value_key, w), lo=1.0)
        else:
            value = number(f"{w}.{value_key}", _need(a, value_key, w), lo=0.0, lo_open=True)
        qty = None
        if value_key == "price" and "qty" in a:
            qty = number(f"{w}.qty", a["qty"], lo=0, lo_open=True)
        acts.append(Action(t=t, kind=kind, position=pos, value=value, qty=qty))
    return SimulationSpec(path=path, symbol=symbol, book=book, insurance_fund=fund,
                          counterparties=tuple(cps), actions=tuple(acts))


def simulation_to_dict(spec: SimulationSpec) -> dict[str, Any]:
    """The inverse of :func:`simulation_from_dict` (``simulation_from_dict(simulation_to_dict(s)) == s``)."""
    d: dict[str, Any] = {"path": dict(spec.path)}
    if spec.symbol is not None:
        d["symbol"] = spec.symbol
    b = spec.book
    d["book"] = {"depth": None if math.isinf(b.depth) else b.depth, "half_spread": b.half_spread,
                 "max_slippage": b.max_slippage}
    d["insurance_fund"] = spec.insurance_fund
    d["counterparties"] = [{"name": c.name, "side": c.side.value, "qty": c.qty, "entry": c.entry,
                            "margin": c.margin} for c in spec.counterparties]
    acts = []
    for a in spec.actions:
        key = {ActionKind.ADD_MARGIN: "amount", ActionKind.CHANGE_LEVERAGE: "leverage",
               ActionKind.REDUCE: "qty"}.get(a.kind, "price")
        item: dict[str, Any] = {"t": a.t, "kind": a.kind.value, "position": a.position, key: a.value}
        if a.qty is not None:
            item["qty"] = a.qty
        acts.append(item)
    d["actions"] = acts
    return d


def run_scenario(scenario: Any, profiles: Any, *, base_dir: Path | str | None = None) -> SimulationResult:
    """Run a :class:`core.scenario.Scenario`'s simulation section under its exchange profile.

    ``profiles`` is a :class:`core.profiles.ProfileSet` (or any mapping-like ``get(id)``);
    ``base_dir`` resolves a relative CSV file (the scenario file's folder).
    """
    if scenario.simulation is None:
        raise InvalidInputError("simulation", "missing: this scenario has no simulation section")
    spec = simulation_from_dict(scenario.simulation)
    profile = profiles.get(scenario.exchange)
    path = build_path(spec.path, base_dir=base_dir)
    return simulate(profile, scenario.account, path, symbol=spec.symbol, book=spec.book,
                    insurance_fund=spec.insurance_fund, counterparties=spec.counterparties,
                    actions=spec.actions)

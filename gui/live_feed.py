"""The live feed: the mark streamed against the workspace's positions, played on a frame timer.

:class:`LiveFeed` owns the mark-price :class:`~gui.feed.Feed` and its :class:`~gui.playback.
PlaybackController` (the same controller that plays the theatre), and watches the streamed
marks for the two things that end a position during playback:

* **liquidation**: the first new point at which the engine says a position of the chart's symbol
  is liquidatable (:func:`core.quote.quote_account`, ``liquidatable_now``): the position is booked
  at its bankruptcy price (docs/domain.md §3), the stream stops there;
* **stop-loss / take-profit**: the first new point at which an order fires
  (:func:`core.orders.stop_hit`, the simulator's own rule: the feed's price is the last price),
  closed there (:func:`core.orders.close_at`: realised PnL and the taker fee), the stream stops.

**Funding** is paid at every multiple of the funding interval of feed time (the workspace's
rate, :attr:`gui.session.Session.funding`), by every open position on the chart's symbol, booked
by the profile's rule (:func:`core.whatif.book_funding`, the simulator's booking): into an
isolated margin (its liquidation price moves), the available balance first (Bybit), or the
wallet. What has been booked is kept here and laid over the scenario's account
(:meth:`LiveFeed.funded`) whenever the session quotes; a payment can liquidate by itself.

Whichever comes first happens; a closed or liquidated position is not watched again until the
feed is reset. The feed never edits the scenario (the plan): what happened is reported by
signal, kept in :attr:`liquidations` / :attr:`fills`, and written to the session's event log.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Protocol

import numpy as np
from PySide6.QtCore import QObject, Signal

from core import fmt
from core.funding import funding_payment, funding_times, position_value
from core.model import Account, MarginMode, Position, Side
from core.orders import Close, close_at, stop_hit
from core.prices import read_price_csv
from core.profiles import Profile
from core.quote import AccountQuote, position_margin, quote_account
from core.scenario import Scenario
from core.simspec import FundingSpec
from core.whatif import BookedFunding, book_funding, funded_account
from gui.feed import Feed
from gui.playback import PlaybackController


class FeedOwner(Protocol):
    """What the live feed reads of its session (gui.session.Session)."""

    @property
    def profile(self) -> Profile: ...
    @property
    def account(self) -> Account: ...
    @property
    def position(self) -> Position | None: ...
    @property
    def chart_symbol(self) -> str | None: ...
    @property
    def tick(self) -> float: ...
    @property
    def funding(self) -> FundingSpec: ...
    @property
    def funding_interval_h(self) -> float: ...
    scenario: Scenario
    quote: AccountQuote | None
    selected: int

    def money(self, x: float | None, *, signed: bool = False, unit: bool = False) -> str: ...

    def orders(self, index: int | None = None) -> dict[str, float]: ...
    def requote(self) -> None: ...
    def log(self, kind: str, detail: str) -> None: ...

FRAME_S: Final = 1.0 / 60.0
SPEEDS: Final = (1, 60, 600, 3_600, 21_600, 86_400)  # simulated seconds per real second


def feed_clock(t_s: float) -> str:
    """Feed time for people: ``1d 02:03:04``."""
    t = round(t_s)
    d, rem = divmod(t, 86_400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return (f"{d}d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    """What happened when the streamed mark crossed a position's liquidation price."""

    index: int
    symbol: str
    side: Side
    qty: float
    cross: bool
    t_s: float  # feed time, seconds since the feed started
    mark: float  # the streamed mark at which the quote said ``liquidatable_now``
    liquidation_price: float
    fill_price: float  # booked at the bankruptcy price (docs/domain.md §3)
    loss: float  # realised loss at the fill: the isolated margin, or the cross collateral used
    margin: float
    funding_paid: float = 0.0  # funding the position paid in the feed before (negative: received)
    asset: str = "USDT"  # the settlement asset the loss, the margin and the funding are in

    def describe(self, tick: float) -> str:
        where = "the cross collateral" if self.cross else "the whole isolated margin"
        funding = (f" Funding had taken {fmt.amount(self.funding_paid, self.asset)} before, moving the liquidation "
                   "price toward the mark." if self.funding_paid > 0 else "")
        return (f"Liquidated at t = {feed_clock(self.t_s)}: the mark {fmt.price(self.mark, tick)} crossed the "
                f"liquidation price {fmt.price(self.liquidation_price, tick)}. The {self.side.value} "
                f"{fmt.num(self.qty)} {self.symbol} was closed at the bankruptcy price "
                f"{fmt.price(self.fill_price, tick)}; loss {fmt.amount(self.loss, self.asset)} {self.asset} = "
                f"{where}.{funding}")


@dataclass(frozen=True, slots=True)
class OrderFill:
    """A stop-loss or take-profit that fired in the live feed and closed its position."""

    index: int
    symbol: str
    side: Side
    kind: str  # "stop_loss" or "take_profit"
    trigger: float
    t_s: float
    close: Close  # qty, fill price, realised PnL and fee (core.orders.close_at)
    asset: str = "USDT"  # the settlement asset of the PnL and the fee

    def describe(self, tick: float) -> str:
        name = "Stop-loss" if self.kind == "stop_loss" else "Take-profit"
        pnl = self.close.realized_pnl
        return (f"{name} at {fmt.price(self.trigger, tick)} fired at t = {feed_clock(self.t_s)}: the {self.side.value} "
                f"{fmt.num(self.close.qty)} {self.symbol} was closed at {fmt.price(self.close.price, tick)}; "
                f"realised PnL {'+' if pnl > 0 else ''}{fmt.amount(pnl, self.asset)}, fee "
                f"{fmt.amount(self.close.fee, self.asset)} {self.asset}.")


@dataclass(frozen=True, slots=True)
class FundingEvent:
    """One funding time of the feed: what each position paid (negative: received) at ``mark``."""

    t_s: float
    rate: float
    mark: float
    booked: BookedFunding  # each position's payment, the wallet's and each isolated margin's change


@dataclass(frozen=True, slots=True)
class NextFunding:
    """The coming funding payment of the selected position: when, at what rate, how much at the live mark."""

    t_s: float
    in_s: float
    rate: float
    interval_h: float
    amount: float  # what the selected position would pay at the live mark (negative: receive)

    def describe(self, money: str) -> str:
        verb = "pays" if self.amount >= 0 else "receives"
        return f"Funding {fmt.pct(self.rate, 4)}: {verb} {money} in {feed_clock(self.in_s)}"


class LiveFeed(QObject):
    """The streamed mark, its playback, and what it does to the session's positions."""

    marketChanged = Signal()  # points were added, or the feed was reset or replaced
    liquidated = Signal(object)  # LiquidationEvent
    orderFilled = Signal(object)  # OrderFill
    fundingPaid = Signal(object)  # FundingEvent
    playingChanged = Signal(bool)
    speedChanged = Signal(int)

    def __init__(self, session: FeedOwner, *, s0: float, seed: int, volatility: float, speed: int,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.feed = Feed(s0=s0, seed=seed, volatility=volatility)
        self.liquidations: list[LiquidationEvent] = []
        self.fills: list[OrderFill] = []
        self._liquidated: set[int] = set()  # positions liquidated since the last reset
        self._closed: set[int] = set()  # positions closed by a stop-loss or take-profit
        self.funding_events: list[FundingEvent] = []
        # what funding has booked since the last reset: the wallet's change, each isolated margin's
        # change and each position's funding paid (by index), laid over the scenario by funded()
        self._fund_wallet = 0.0
        self._fund_margin: dict[int, float] = {}
        self._fund_paid: dict[int, float] = {}
        self._carry = 0.0
        # a fixed frame length (no clock): every frame streams speed x 1/60 s, so playback is the
        # same on any machine and tests step frames themselves
        self.player = PlaybackController(self._advance_seconds, speed=float(speed), frame_ms=round(FRAME_S * 1000),
                                         clock=None, can_play=self._can_play, parent=self)
        self.player.playingChanged.connect(self.playingChanged)
        self.player.speedChanged.connect(lambda s: self.speedChanged.emit(int(s)))

    # ------------------------------------------------------------------ state

    @property
    def playing(self) -> bool:
        return self.player.playing

    @property
    def speed(self) -> int:
        return int(self.player.speed)

    @property
    def live_mark(self) -> float:
        return self.feed.last_mark

    def is_liquidated(self, index: int) -> bool:
        return index in self._liquidated

    def is_closed(self, index: int) -> bool:
        """Liquidated, or closed by an order, since the feed was last reset: no longer watched."""
        return index in self._liquidated or index in self._closed

    def fill_of(self, index: int) -> OrderFill | None:
        return next((f for f in self.fills if f.index == index), None)

    def forget_positions_from(self, n: int) -> None:
        """Positions ``n`` and later no longer exist (the account shrank)."""
        self._liquidated = {i for i in self._liquidated if i < n}
        self._closed = {i for i in self._closed if i < n}
        self._fund_margin = {i: v for i, v in self._fund_margin.items() if i < n}
        self._fund_paid = {i: v for i, v in self._fund_paid.items() if i < n}

    # ------------------------------------------------------------------ funding

    def funding_paid(self, index: int) -> float:
        """Funding position ``index`` has paid in the feed since the last reset (negative: received)."""
        return self._fund_paid.get(index, 0.0)

    def funded(self, account: Account) -> Account:
        """``account`` with the funding booked by the feed so far (:func:`core.whatif.funded_account`):
        its wallet and isolated margins changed, each position's ``funding_paid`` counted."""
        if not (self._fund_wallet or self._fund_margin or self._fund_paid):
            return account
        profile = self.session.profile
        n = len(account.positions)
        margins = {i: position_margin(profile, account.positions[i]) + dm
                   for i, dm in self._fund_margin.items() if i < n and account.positions[i].mode is MarginMode.ISOLATED}
        return funded_account(profile, account, wallet=account.wallet_usd + self._fund_wallet, margins=margins,
                              paid={i: v for i, v in self._fund_paid.items() if i < n})

    def next_funding(self) -> NextFunding | None:
        """The selected position's next payment at the live mark, or None (no open position)."""
        s = self.session
        p = s.position
        if p is None or self.is_closed(s.selected) or p.symbol != s.chart_symbol:
            return None
        interval_s = s.funding_interval_h * 3_600.0
        t = self.feed.last_t
        t_next = (math.floor(t / interval_s + 1e-9) + 1) * interval_s
        rate = s.funding.rate_at(t_next)
        value = position_value(s.profile, p.symbol, qty=p.qty_base, price=self.live_mark)
        return NextFunding(t_s=t_next, in_s=t_next - t, rate=rate, interval_h=s.funding_interval_h,
                           amount=float(funding_payment(side=p.sign, value=value, rate=rate)))

    def _pay_funding(self, t_s: float, mark: float) -> None:
        """Book one funding time at ``mark`` (:func:`core.whatif.book_funding`) and log each payment."""
        s = self.session
        sym = s.chart_symbol
        if sym is None:
            return
        rate = s.funding.rate_at(t_s)
        account = self.funded(s.scenario.account.with_mark(sym, mark))
        closed = {i for i in range(len(account.positions)) if self.is_closed(i)}
        booked = book_funding(s.profile, account, symbol=sym, rate=rate, skip=closed)
        if not any(booked.paid):
            return
        before = s.quote
        self._fund_wallet += booked.wallet_change
        for i, dm in booked.margin_changes.items():
            if dm:
                self._fund_margin[i] = self._fund_margin.get(i, 0.0) + dm
        for i, c in enumerate(booked.paid):
            if c:
                self._fund_paid[i] = self._fund_paid.get(i, 0.0) + c
        ev = FundingEvent(t_s=t_s, rate=rate, mark=mark, booked=booked)
        self.funding_events.append(ev)
        s.requote()
        for i, c in enumerate(booked.paid):
            if c:
                s.log("funding", self._funding_text(ev, i, before))
        self.fundingPaid.emit(ev)

    def _funding_text(self, ev: FundingEvent, i: int, before: AccountQuote | None) -> str:
        s = self.session
        p = s.account.positions[i]
        c = ev.booked.paid[i]
        dm = ev.booked.margin_changes.get(i, 0.0)
        if p.mode is MarginMode.CROSS:
            where = "the wallet"
        elif not dm:
            where = "the available balance"
        else:
            where = "its isolated margin" if abs(dm + c) <= 1e-9 * abs(c) else "the available balance, then its margin"
        text = (f"Funding at t = {feed_clock(ev.t_s)}, rate {fmt.pct(ev.rate, 4)}: #{i + 1} {p.side.value} "
                f"{fmt.num(p.qty_base)} {p.symbol} {'paid' if c > 0 else 'received'} {s.money(abs(c), unit=True)} "
                f"at the mark {fmt.price(ev.mark, s.tick)}, {'from' if c > 0 else 'into'} {where}")
        after = s.quote
        if before is not None and after is not None and i < len(before.positions) and i < len(after.positions):
            lp0, lp1 = before.positions[i].liquidation_price, after.positions[i].liquidation_price
            if lp0 != lp1:
                text += f"; liquidation price {fmt.price(lp0, s.tick)} -> {fmt.price(lp1, s.tick)}"
        return text + "."

    # ------------------------------------------------------------------ playback

    def _can_play(self) -> bool:
        return not self.feed.finished and self.session.position is not None

    def play(self) -> None:
        self.player.play()

    def pause(self) -> None:
        self.player.pause()

    def toggle_play(self) -> None:
        self.player.toggle()

    def set_speed(self, speed: int) -> None:
        self.player.set_speed(speed)

    def step_frame(self, dt_s: float = FRAME_S) -> bool:
        """One frame of ``dt_s`` real seconds at the current speed (tests and --screenshot call it)."""
        return self.player.step_frame(dt_s)

    def _advance_seconds(self, seconds: float) -> bool:
        self._carry += seconds
        k = int(self._carry)
        self._carry -= k
        self.advance(k)
        return self.feed.finished

    def advance(self, k: int) -> int:
        """Append ``k`` points; a liquidation or an order among them happens; the session re-quotes."""
        if self.session.position is None:
            return 0
        start, n = self.feed.advance(k)
        if n == 0:
            if self.feed.finished:
                self.pause()
            return 0
        self._play_points(start, n)
        self.session.requote()
        self.marketChanged.emit()
        if self.feed.finished:
            self.pause()
        return n

    # ------------------------------------------------------------------ sources

    def reset(self, s0: float) -> None:
        """Back to ``s0`` (the scenario's mark); liquidations and fills are cleared."""
        self.pause()
        self.feed.reset(s0)
        self._forget()

    def load_price_csv(self, path: Path | str) -> int:
        """Replay a CSV of prices (``timestamp,price`` or OHLC) instead of the simulated feed."""
        p = read_price_csv(path)
        self.pause()
        self.feed.load_replay(p, name=Path(path).name)
        self._forget()
        return len(p)

    def use_simulated(self, *, s0: float, seed: int | None = None, volatility: float | None = None) -> None:
        self.pause()
        self.feed.use_simulation(seed=seed, volatility=volatility, s0=s0)
        self._forget()

    def _forget(self) -> None:
        self._carry = 0.0
        self.liquidations.clear()
        self.fills.clear()
        self._liquidated.clear()
        self._closed.clear()
        self.funding_events.clear()
        self._fund_wallet = 0.0
        self._fund_margin.clear()
        self._fund_paid.clear()
        self.marketChanged.emit()

    # ------------------------------------------------------------------ what the marks do

    def _play_points(self, start: int, n: int) -> None:
        """The new points in time order, with a funding payment at each funding time among them.

        A payment is valued at the mark of the last point at or before its time; a payment that
        leaves a position liquidatable liquidates it there, and the stream stops.
        """
        s = self.session
        sym = s.chart_symbol
        t, y = self.feed.view()
        end = start + n
        a = start
        prev_t = float(t[start - 1]) if start > 0 else -math.inf
        for tb in funding_times(prev_t, float(t[end - 1]), s.funding_interval_h * 3_600.0):
            jb = int(np.searchsorted(t, tb, side="right")) - 1
            if jb >= a and self._watch(a, jb + 1 - a):
                return
            a = max(a, jb + 1)
            self._pay_funding(float(tb), float(y[jb]))
            liq = None if sym is None or s.quote is None else self._first_liquidation(sym, y[jb:jb + 1])
            if liq is not None:
                self._liquidate(liq[2], float(tb))
                self.feed.truncate(jb + 1)
                self.pause()
                return
        if end > a:
            self._watch(a, end - a)

    def _watch(self, start: int, n: int) -> bool:
        """Of the points ``start`` to ``start + n``, act on the first that liquidates a position or
        fires an order; True when one did (the stream stops there)."""
        s = self.session
        sym = s.chart_symbol
        if s.quote is None or sym is None:
            return False
        t, y = self.feed.view()
        marks, times = y[start:start + n], t[start:start + n]
        liq = self._first_liquidation(sym, marks)
        order = self._first_order(sym, marks)
        if order is not None and (liq is None or order[0] < liq[0]):
            j, i, kind, trigger = order
            self._fill(i, kind, trigger, float(marks[j]), float(times[j]))
        elif liq is not None:
            j, _i, ev = liq
            self._liquidate(ev, float(times[j]))
        else:
            return False
        # stop the stream at that moment so the chart and the results show it
        self.feed.truncate(start + j + 1)
        self.pause()
        return True

    def _first_liquidation(self, sym: str, marks: np.ndarray) -> tuple[int, int, LiquidationEvent] | None:
        """The first point where a position of ``sym`` is liquidatable (the engine confirms).

        The candidate is where the mark crosses the quoted liquidation price (exact under the
        profile's rules while the other marks stay put); the quote at that mark confirms it.
        """
        s = self.session
        assert s.quote is not None
        best: tuple[int, int] | None = None  # (point index, position index)
        for i, q in enumerate(s.quote.positions):
            p = q.position
            if p.symbol != sym or self.is_closed(i) or not math.isfinite(q.liquidation_price):
                continue
            hit = p.sign * (marks - q.liquidation_price) <= 0
            if hit.any():
                j = int(np.argmax(hit))
                if best is None or j < best[0]:
                    best = (j, i)
        if best is None:
            return None
        j0, i = best
        base = s.scenario.account
        for j in range(j0, marks.size):
            mark = float(marks[j])
            q = quote_account(s.profile, self.funded(base.with_mark(sym, mark))).positions[i]
            if not q.liquidatable_now:
                continue
            at_fill = quote_account(s.profile, self.funded(base.with_mark(sym, q.bankruptcy_price))).positions[i]
            return j, i, LiquidationEvent(
                index=i, symbol=q.position.symbol, side=q.position.side, qty=q.position.qty_base,
                cross=q.position.mode is MarginMode.CROSS, t_s=0.0, mark=mark,
                liquidation_price=q.liquidation_price, fill_price=q.bankruptcy_price,
                loss=-at_fill.unrealized_pnl, margin=q.margin, funding_paid=self.funding_paid(i),
                asset=q.settle_asset)
        return None

    def _first_order(self, sym: str, marks: np.ndarray) -> tuple[int, int, str, float] | None:
        """The first point where a stop-loss or take-profit of a position of ``sym`` fires."""
        s = self.session
        best: tuple[int, int, str, float] | None = None
        for i, p in enumerate(s.account.positions):
            if p.symbol != sym or self.is_closed(i):
                continue
            for kind, trigger in s.orders(i).items():
                j = stop_hit(kind, p.side, trigger, marks)
                if j is not None and (best is None or j < best[0]):
                    best = (j, i, kind, trigger)
        return best

    def _liquidate(self, ev: LiquidationEvent, t_s: float) -> None:
        s = self.session
        ev = replace(ev, t_s=t_s)
        if ev.cross:  # a cross liquidation takes every cross position of the account
            self._liquidated |= {k for k, p in enumerate(s.account.positions) if p.mode is MarginMode.CROSS}
        else:
            self._liquidated.add(ev.index)
        self.liquidations.append(ev)
        s.log("liquidation", ev.describe(s.tick))
        self.liquidated.emit(ev)

    def _fill(self, index: int, kind: str, trigger: float, price: float, t_s: float) -> None:
        """Close the whole position at the feed's price: the simulator's reduce at the taker fee."""
        s = self.session
        p = s.account.positions[index]
        contract = s.profile.contract(p.symbol)
        close = close_at(side=p.side, qty=p.qty_base, entry=p.entry_price, price=price,
                         fee_rate=s.profile.rules.taker_fee, contract=contract)
        fill = OrderFill(index=index, symbol=p.symbol, side=p.side, kind=kind, trigger=trigger, t_s=t_s, close=close,
                         asset=contract.settle)
        self._closed.add(index)
        self.fills.append(fill)
        s.log(kind.replace("_", "-"), fill.describe(s.tick))
        self.orderFilled.emit(fill)

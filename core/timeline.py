"""A simulation result on a time axis: what the run implies at any moment, for the theatre.

:func:`build_timeline` turns a :class:`core.simulate.SimulationResult` into a :class:`Timeline`:
each position's size, liquidation and bankruptcy price as step series (:class:`Track`), the
insurance fund's balance, every ledger party's balance, the auto-deleveraging queue and the odds of
liquidation at any time ``t``. Sizes come from the simulator's events, balances from its ledger; the
lines are re-quoted by :func:`core.quote.quote_account` (the engine's own function) after every
event, so they move when margin is added, a tier is stepped down or a partial liquidation shrinks
the position.

The words and numbers the theatre writes next to a liquidation (:func:`liquidation_steps`) and after
an edit of the scripted actions (:func:`action_outcome`) are read from the run's events and ledger,
never re-derived.

Also here, because none of it needs Qt: :func:`with_margin_mode` and :func:`with_actions` (a
scenario changed for the isolated-versus-cross comparison and for edited actions), :func:`run_timeline`
(the background job: the scenario, its isolated and cross versions, and the timeline) and the Monte
Carlo fan (:func:`fan_spec`, :func:`run_fan`: plain numpy, a cancel check between chunks).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import numpy as np

from core import fmt
from core.errors import InvalidInputError, MarginEngineError
from core.ledger import Transfer, replay
from core.model import Account, MarginMode, Side
from core.orders import close_at
from core.prices import SECONDS_PER_YEAR, gbm_paths
from core.profiles import Profile, ProfileSet
from core.quote import position_margin, quote_account
from core.risk import distance_to_liquidation, liquidation_probability
from core.scenario import Scenario
from core.simulate import (
    FUND,
    VAULT,
    WALLET,
    Action,
    ActionKind,
    Counterparty,
    Event,
    EventKind,
    SimulationResult,
    SimulationSpec,
    contract_adl_ranking,
    position_names,
    run_scenario,
)

#: Samples of the liquidation/bankruptcy lines between events when they depend on the mark
#: (two or more cross positions on the path's symbol: each one's price holds the others at the mark).
MARK_SAMPLES: Final = 300

_REDUCING: Final = frozenset({EventKind.LIQUIDATION_FILL, EventKind.PARTIAL_LIQUIDATION,
                              EventKind.POSITION_REDUCED})


def simulation_spec(scenario: Scenario) -> SimulationSpec:
    """The scenario's ``simulation`` section (typed and validated when the scenario was read)."""
    if scenario.simulation is None:
        raise InvalidInputError("simulation", "missing: this scenario has no simulation to play")
    return scenario.simulation


# ------------------------------------------------------------------------------------ the timeline


@dataclass(frozen=True, slots=True, eq=False)
class Track:
    """One position over time. Value ``k`` holds from ``t[k]`` until ``t[k + 1]`` (the last one until
    the end of the path); NaN where the position is closed or has no such price."""

    index: int
    label: str
    party: str
    side: Side
    symbol: str
    on_path: bool
    t: np.ndarray
    qty: np.ndarray
    liquidation: np.ndarray
    bankruptcy: np.ndarray

    def k_at(self, t: float, *, inclusive: bool = True) -> int:
        """Index of the value in force at ``t`` (before the events at ``t`` if not ``inclusive``)."""
        return max(int(np.searchsorted(self.t, t, side="right" if inclusive else "left")) - 1, 0)

    def is_open(self, t: float, *, inclusive: bool = True) -> bool:
        return bool(np.nan_to_num(self.qty[self.k_at(t, inclusive=inclusive)]) > 0)

    def step_xy(self, values: np.ndarray, t_end: float) -> tuple[np.ndarray, np.ndarray]:
        """Points that draw ``values`` as a step series up to ``t_end`` (NaN breaks the line)."""
        edges = np.append(self.t, max(t_end, float(self.t[-1])))
        x = np.repeat(edges, 2)[1:-1]
        y = np.repeat(values, 2)
        return x, y


@dataclass(frozen=True, slots=True)
class AdlRow:
    """One counterparty in the auto-deleveraging queue at a time (rank 1 is closed first)."""

    rank: int
    name: str
    side: Side
    qty: float
    entry: float
    margin: float
    unrealized_pnl: float
    score: float
    eligible: bool  # opposite a trader position on the path and in profit at the mark


@dataclass(frozen=True, slots=True)
class Odds:
    """Chance that the mark touches a position's liquidation price within a horizon (core.risk)."""

    label: str
    side: Side
    mark: float
    liquidation_price: float
    probability: float
    distance: float  # core.risk.distance_to_liquidation: signed, negative past the liquidation price


@dataclass(frozen=True, slots=True, eq=False)
class Timeline:
    """A :class:`SimulationResult` with what it implies at any time (see the module docstring)."""

    scenario: Scenario
    result: SimulationResult
    tracks: tuple[Track, ...]
    counterparties: tuple[Counterparty, ...]
    opening: dict[str, float]
    transfer_t: np.ndarray
    fund_t: np.ndarray
    fund_balance: np.ndarray
    event_t: np.ndarray
    steps: tuple[LiquidationStep, ...] = ()  # :func:`liquidation_steps`, filled in by build_timeline

    @property
    def t0(self) -> float:
        return float(self.result.path.t[0])

    @property
    def t_end(self) -> float:
        return float(self.result.path.t[-1])

    @property
    def settle_asset(self) -> str:
        """The asset every amount of the run is in (ledger, fund, margins, PnL): the contract's settle
        asset, USDT for a linear USDT contract, the coin (BTC) for an inverse one."""
        return self.result.settle_asset

    def tick_at(self, t: float) -> int:
        return max(int(np.searchsorted(self.result.path.t, t, side="right")) - 1, 0)

    def mark_at(self, t: float) -> float:
        return float(self.result.path.mark[self.tick_at(t)])

    def last_at(self, t: float) -> float:
        return float(self.result.path.last[self.tick_at(t)])

    def events_until(self, t: float, *, inclusive: bool = True) -> int:
        """How many events have happened at or before ``t`` (strictly before if not ``inclusive``)."""
        return int(np.searchsorted(self.event_t, t, side="right" if inclusive else "left"))

    def events_at(self, t: float) -> tuple[Event, ...]:
        """The events at exactly ``t``."""
        return self.result.events[self.events_until(t, inclusive=False):self.events_until(t)]

    def next_event_time(self, t: float, direction: int) -> float:
        """The next (``direction`` > 0) or previous event time from ``t``; the path's end or start
        when there is none."""
        times = np.unique(self.event_t)
        if direction > 0:
            k = int(np.searchsorted(times, t, side="right"))
            return float(times[k]) if k < times.size else self.t_end
        k = int(np.searchsorted(times, t, side="left")) - 1
        return float(times[k]) if k >= 0 else self.t0

    def transfers_until(self, t: float, *, inclusive: bool = True) -> tuple[Transfer, ...]:
        k = int(np.searchsorted(self.transfer_t, t, side="right" if inclusive else "left"))
        return self.result.transfers[:k]

    def balances_at(self, t: float, *, inclusive: bool = True) -> dict[str, float]:
        """Every ledger party's balance after the transfers at or before ``t`` (strictly before if not
        ``inclusive``), replayed from the opening balances (:func:`core.ledger.replay`)."""
        return replay(self.opening, self.transfers_until(t, inclusive=inclusive))

    def fund_at(self, t: float) -> float:
        k = max(int(np.searchsorted(self.fund_t, t, side="right")) - 1, 0)
        return float(self.fund_balance[k])

    def adl_queue(self, t: float, *, inclusive: bool = True) -> list[AdlRow]:
        """The counterparties ranked by :func:`core.simulate.adl_ranking` at the mark at ``t`` (in the
        linear frame of an inverse contract, :func:`core.waterfall.contract_adl_ranking`).

        Sizes and margins are after the events at or before ``t`` (strictly before if not
        ``inclusive``: the queue the simulator ranked when it deleveraged at ``t``).
        """
        mark = self.mark_at(t)
        bal = self.balances_at(t, inclusive=inclusive)
        taken: dict[str, float] = {}
        for e in self.result.events[:self.events_until(t, inclusive=inclusive)]:
            if e.kind is EventKind.ADL:
                taken[e.position] = taken.get(e.position, 0.0) + e.qty
        open_sides = {tr.side.sign for tr in self.tracks if tr.on_path and tr.is_open(t, inclusive=inclusive)}
        cps = self.counterparties
        qtys = [max(c.qty - taken.get(c.name, 0.0), 0.0) for c in cps]
        margins = [bal.get(c.party, c.margin) for c in cps]
        contract = self.result.contract
        order, scores, eligible = contract_adl_ranking(
            contract, sides=[c.side.sign for c in cps], qtys=qtys, entries=[c.entry for c in cps], margins=margins,
            mark=mark, against=sorted(open_sides))
        return [AdlRow(rank=r + 1, name=cps[k].name, side=cps[k].side, qty=qtys[k], entry=cps[k].entry,
                       margin=margins[k], unrealized_pnl=float(close_at(
                           side=cps[k].side.sign, qty=qtys[k], entry=cps[k].entry, price=mark, fee_rate=0.0,
                           contract=contract).realized_pnl),
                       score=float(scores[k]), eligible=bool(eligible[k]))
                for r, k in enumerate(order)]

    def adl_queue_at(self, t: float) -> tuple[list[AdlRow], tuple[Event, ...]]:
        """The queue to show at ``t`` and the ``adl`` events at ``t``.

        At the time of an auto-deleveraging the queue is the one the simulator ranked (sizes and
        margins before the events at ``t``), so the counterparty its first ``adl`` event names is
        rank 1; at any other time it is the queue after the events at ``t``.
        """
        adl = tuple(e for e in self.events_at(t) if e.kind is EventKind.ADL)
        return self.adl_queue(t, inclusive=not adl), adl

    def step_at(self, t: float) -> LiquidationStep | None:
        """The last liquidation step at or before ``t`` (None before the first)."""
        done = [s for s in self.steps if s.t <= t]
        return done[-1] if done else None

    def odds_at(self, t: float, *, sigma: float, horizon_s: float) -> list[Odds]:
        """For every open position on the path: the chance of liquidation within ``horizon_s``
        seconds at annual volatility ``sigma`` (:func:`core.risk.liquidation_probability`)."""
        mark = self.mark_at(t)
        out = []
        for tr in self.tracks:
            if not (tr.on_path and tr.is_open(t)):
                continue
            lp = float(tr.liquidation[tr.k_at(t)])
            prob = float(liquidation_probability(side=tr.side.sign, mark=mark, liquidation_price=lp,
                                                 sigma=sigma, horizon=horizon_s / SECONDS_PER_YEAR))
            dist = float(distance_to_liquidation(side=tr.side.sign, mark=mark, liquidation_price=lp))
            out.append(Odds(label=tr.label, side=tr.side, mark=mark, liquidation_price=lp, probability=prob,
                            distance=dist))
        return out


def _account_at(scenario: Scenario, names: list[tuple[str, str]], qty: list[float], lev: list[float],
                bal: dict[str, float], symbol: str, mark: float) -> tuple[Account, list[int]]:
    acct = scenario.account
    positions, alive = [], []
    for i, p in enumerate(acct.positions):
        if qty[i] <= 0:
            continue
        margin = max(bal.get(names[i][1], 0.0), 1e-9) if p.mode is MarginMode.ISOLATED else None
        positions.append(replace(p, qty_base=qty[i], leverage=lev[i], margin_usd=margin))
        alive.append(i)
    wallet = max(bal.get(WALLET, 0.0), 0.0)
    return acct.with_(wallet_usd=wallet, positions=tuple(positions)).with_mark(symbol, mark), alive


def build_timeline(scenario: Scenario, profile: Profile, result: SimulationResult) -> Timeline:
    """Replay ``result``'s events and transfers into step series (see :class:`Timeline`).

    After every event time the account is rebuilt (sizes from the fill, partial, reduce, ADL and
    backstop events; leverage from ``leverage_changed``; margins and wallet from the ledger) and
    quoted by :func:`core.quote.quote_account`; when two or more cross positions share the path's
    symbol their prices depend on the mark, so the lines are also re-quoted at
    :data:`MARK_SAMPLES` ticks.
    """
    acct = scenario.account
    path = result.path
    names = position_names(acct)
    opening = {p.name: p.start for p in result.parties}
    events = result.events
    ev_t = np.array([e.t for e in events], dtype=float)
    label_index = {lab: i for i, (lab, _) in enumerate(names)}

    samples = {float(path.t[0])} | {float(x) for x in ev_t}
    cross_on_path = sum(1 for p in acct.positions if p.mode is MarginMode.CROSS and p.symbol == result.symbol)
    if cross_on_path >= 2:
        idx = np.unique(np.linspace(0, len(path) - 1, min(MARK_SAMPLES, len(path))).astype(int))
        samples |= {float(path.t[k]) for k in idx}
    times = np.array(sorted(samples), dtype=float)

    n = len(acct.positions)
    qty = [p.qty_base for p in acct.positions]
    lev = [p.leverage for p in acct.positions]
    q_series = np.full((n, times.size), np.nan)
    lp_series = np.full((n, times.size), np.nan)
    bp_series = np.full((n, times.size), np.nan)
    tr_t = np.array([tr.t for tr in result.transfers], dtype=float)
    e_ptr = 0
    for k, s in enumerate(times):
        while e_ptr < len(events) and events[e_ptr].t <= s:
            e = events[e_ptr]
            e_ptr += 1
            if e.kind in _REDUCING and e.position in label_index:
                i = label_index[e.position]
                qty[i] = max(qty[i] - e.qty, 0.0)
            elif e.kind is EventKind.ADL:
                i = int(e.detail.get("against", -1))
                if 0 <= i < n:
                    qty[i] = max(qty[i] - e.qty, 0.0)
            elif e.kind is EventKind.BACKSTOP and e.position in label_index:
                qty[label_index[e.position]] = 0.0
            elif e.kind is EventKind.LEVERAGE_CHANGED and e.position in label_index:
                lev[label_index[e.position]] = e.qty
        for i in range(n):
            if qty[i] < 1e-12:
                qty[i] = 0.0
        q_series[:, k] = qty
        bal = replay(opening, result.transfers[: int(np.searchsorted(tr_t, s, side="right"))])
        mark = float(path.mark[max(int(np.searchsorted(path.t, s, side="right")) - 1, 0)])
        account, alive = _account_at(scenario, names, qty, lev, bal, result.symbol, mark)
        if not alive:
            continue
        try:
            aq = quote_account(profile, account)
        except MarginEngineError:
            continue  # a state the engine cannot quote (e.g. a margin emptied to zero): no lines
        for j, i in enumerate(alive):
            lp_series[i, k] = aq.positions[j].liquidation_price
            bp_series[i, k] = aq.positions[j].bankruptcy_price

    tracks = tuple(
        Track(index=i, label=names[i][0], party=names[i][1], side=p.side, symbol=p.symbol,
              on_path=p.symbol == result.symbol, t=times, qty=q_series[i], liquidation=lp_series[i],
              bankruptcy=bp_series[i])
        for i, p in enumerate(acct.positions))

    f_t, f_b = [float(path.t[0])], [opening.get(FUND, 0.0)]
    bal_f = f_b[0]
    for tr in result.transfers:
        if FUND in (tr.src, tr.dst):
            bal_f += tr.amount if tr.dst == FUND else -tr.amount
            f_t.append(tr.t)
            f_b.append(bal_f)
    tl = Timeline(scenario=scenario, result=result, tracks=tracks,
                  counterparties=simulation_spec(scenario).counterparties, opening=opening,
                  transfer_t=tr_t, fund_t=np.array(f_t), fund_balance=np.array(f_b), event_t=ev_t)
    return replace(tl, steps=liquidation_steps(tl))


def event_text(e: Event, tick: float, asset: str) -> str:
    """A one-line description of an event for the log (numbers from the event itself; amounts in
    ``asset``, the run's :attr:`Timeline.settle_asset`)."""
    parts = [e.kind.value.replace("_", " ")]
    if math.isfinite(e.price):
        parts.append(f"@ {fmt.price(e.price, tick)}")
    if e.qty and e.kind is not EventKind.ORDERS_CANCELLED:
        parts.append(f"qty {fmt.num(round(e.qty, 9))}")
    if e.amount:
        parts.append(f"amount {fmt.amount_text(e.amount, asset)}")
    return " ".join(parts)


# ------------------------------------------------------------- what the ledger booked at each step


#: The events a liquidation step is made of, after its ``liquidation_triggered``.
_STEP_KINDS: Final = frozenset({EventKind.ORDERS_CANCELLED, EventKind.PARTIAL_LIQUIDATION,
                                EventKind.LIQUIDATION_FILL, EventKind.ADL, EventKind.INSURANCE_FUND_INFLOW,
                                EventKind.INSURANCE_FUND_PAYOUT, EventKind.BACKSTOP})


@dataclass(frozen=True, slots=True)
class BookFill:
    """One liquidation order's fill in the book (a ``liquidation_fill`` or ``partial_liquidation``
    event) against the position's bankruptcy price at that step."""

    position: str
    side: int  # +1 long, -1 short
    qty: float
    price: float
    bankruptcy_price: float
    fee: float


@dataclass(frozen=True, slots=True)
class LiquidationStep:
    """One liquidation of a scope (an isolated position, or the cross positions together) at ``t``:
    the ``liquidation_triggered`` event and the events the simulator recorded with it, and what the
    ledger booked. Every number is an event's own or a ledger balance; nothing is re-derived.
    """

    t: float
    scope: str  # the trigger's position: a position label, or "cross"
    party: str  # the ledger party that holds the scope's collateral
    fills: tuple[BookFill, ...]
    adl: tuple[Event, ...]  # ``adl`` events: counterparty, qty closed, at the bankruptcy price
    backstop_qty: float  # taken over by the liquidator vault (``backstop`` events)
    to_vault: float  # collateral the vault took with it (ledger transfers to ``liquidator_vault``)
    fund_inflow: float  # ``insurance_fund_inflow`` amounts
    fund_payout: float  # ``insurance_fund_payout`` amounts
    partial: bool  # the step's book orders were ``partial_liquidation`` events
    still_open: bool  # a position of the scope is open after the step
    margin_left: float  # the party's ledger balance after the step
    asset: str  # what the amounts are in (:attr:`Timeline.settle_asset`)

    @property
    def kind(self) -> str:
        if self.backstop_qty > 0:
            return "backstop"
        return "partial liquidation" if self.partial else "liquidation"

    @property
    def fees(self) -> float:
        return math.fsum(f.fee for f in self.fills)

    def lines(self, tick: float) -> list[str]:
        """What happened, in the words the chart uses: the fills against bankruptcy, the ADL
        closes, the backstop, and what the fund received or paid (amounts by :func:`core.fmt.amount_text`)."""
        def amt(x: float) -> str:
            return fmt.amount_text(x, self.asset)

        out = [f"{self.kind} of {self.scope} at t = {self.t:g} s"]
        for f in self.fills:
            out.append(f"sold {fmt.num(round(f.qty, 9))} @ {fmt.price(f.price, tick)} "
                       f"(bankruptcy {fmt.price(f.bankruptcy_price, tick)})")
        if self.fees > 0:
            out.append(f"liquidation fee {amt(self.fees)}")
        for e in self.adl:
            out.append(f"ADL'd {fmt.num(round(e.qty, 9))} @ {fmt.price(e.price, tick)} against {e.position}")
        if self.backstop_qty > 0:
            out.append(f"the liquidator vault took {fmt.num(round(self.backstop_qty, 9))} with "
                       f"{amt(self.to_vault)} of margin")
        if self.fund_inflow > 0:
            out.append(f"surplus to the fund {amt(self.fund_inflow)}")
        if self.fund_payout > 0:
            out.append(f"gap past bankruptcy paid by the fund {amt(self.fund_payout)}")
        if self.fund_inflow <= 0 and self.fund_payout <= 0:
            keeps = "the wallet keeps" if self.party == WALLET else "the position keeps"
            out.append(f"nothing to the fund; {keeps} {amt(self.margin_left)}" if self.still_open
                       else "nothing to the fund")
        return out


def liquidation_steps(timeline: Timeline) -> tuple[LiquidationStep, ...]:
    """Every liquidation step of the run, read from its events and ledger (see :class:`LiquidationStep`).

    A step is a ``liquidation_triggered`` event and the waterfall events that follow it at the same
    time (cancelled orders, fills, ADL, fund flows, backstop). A partial liquidation's bankruptcy
    price is its :class:`~core.simulate.LiquidationRecord`'s (the fill event carries it otherwise).
    """
    res = timeline.result
    party_of = {tr.label: tr.party for tr in timeline.tracks}
    sign_of = {tr.label: tr.side.sign for tr in timeline.tracks}
    partial_bp: dict[tuple[float, str], list[float]] = {}
    for r in res.liquidations:
        if r.kind == "partial":
            partial_bp.setdefault((r.t, r.position), []).append(r.bankruptcy_price)
    groups: list[tuple[Event, list[Event]]] = []
    in_step = False
    for e in res.events:
        if e.kind is EventKind.LIQUIDATION_TRIGGERED:
            groups.append((e, []))
            in_step = True
        elif in_step and e.kind in _STEP_KINDS and e.t == groups[-1][0].t:
            groups[-1][1].append(e)
        else:
            in_step = False  # e.g. a trader action at the same tick: what follows is not the step's
    steps = []
    for trig, evs in groups:
        scope = trig.position
        party = WALLET if scope == "cross" else party_of.get(scope, WALLET)
        members = {tr.label for tr in timeline.tracks if tr.party == party}
        fills = []
        for e in evs:
            if e.kind is EventKind.LIQUIDATION_FILL:
                bp = e.detail.get("bankruptcy_price", math.nan)
            elif e.kind is EventKind.PARTIAL_LIQUIDATION:
                queue = partial_bp.get((e.t, e.position), [])
                bp = queue.pop(0) if queue else math.nan
            else:
                continue
            fills.append(BookFill(position=e.position, side=sign_of.get(e.position, 1), qty=e.qty, price=e.price,
                                  bankruptcy_price=bp, fee=e.detail.get("fee", 0.0)))
        t = trig.t
        to_vault = math.fsum(tr.amount for tr in res.transfers if tr.t == t and tr.src == party and tr.dst == VAULT)
        steps.append(LiquidationStep(
            t=t, scope=scope, party=party, fills=tuple(fills),
            adl=tuple(e for e in evs if e.kind is EventKind.ADL),
            backstop_qty=math.fsum(e.qty for e in evs if e.kind is EventKind.BACKSTOP), to_vault=to_vault,
            fund_inflow=math.fsum(e.amount for e in evs if e.kind is EventKind.INSURANCE_FUND_INFLOW),
            fund_payout=math.fsum(e.amount for e in evs if e.kind is EventKind.INSURANCE_FUND_PAYOUT),
            partial=any(e.kind is EventKind.PARTIAL_LIQUIDATION for e in evs),
            still_open=any(tr.is_open(t) for tr in timeline.tracks if tr.label in members),
            margin_left=timeline.balances_at(t).get(party, 0.0), asset=timeline.settle_asset))
    return tuple(steps)


# ------------------------------------------------------------------ what a scripted action did


#: The event an applied action leaves in the run (stop-loss / take-profit orders leave one when they fire).
ACTION_EVENT: Final = {ActionKind.ADD_MARGIN: EventKind.MARGIN_ADDED,
                       ActionKind.CHANGE_LEVERAGE: EventKind.LEVERAGE_CHANGED,
                       ActionKind.REDUCE: EventKind.POSITION_REDUCED,
                       ActionKind.STOP_LOSS: EventKind.STOP_TRIGGERED,
                       ActionKind.TAKE_PROFIT: EventKind.STOP_TRIGGERED}


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What the run did with one scripted action: the event it left (None: none) and a sentence."""

    action: Action
    event: Event | None
    text: str

    @property
    def applied(self) -> bool:
        return self.event is not None


def action_outcome(timeline: Timeline, action: Action) -> ActionOutcome:
    """Find the event ``action`` left in the run, or say from the run why there is none.

    The actions of one kind on one position are matched in time order to that position's events
    of the kind (:data:`ACTION_EVENT`) at or after the action's time; a stop order is matched to a
    ``stop_triggered`` at its price. Without an event, the sentence names what closed the position
    and when, as the run recorded it.
    """
    res = timeline.result
    tick = res.tick_size
    track = timeline.tracks[action.position]
    label = track.label
    kind = ACTION_EVENT[action.kind]
    is_order = action.kind in (ActionKind.STOP_LOSS, ActionKind.TAKE_PROFIT)
    spec_actions = sorted((a for a in simulation_spec(timeline.scenario).actions
                           if a.position == action.position and ACTION_EVENT[a.kind] is kind
                           and (not is_order or a.value == action.value)), key=lambda a: a.t)
    events = [e for e in res.events if e.kind is kind and e.position == label
              and (not is_order or e.price == action.value)]
    matched: Event | None = None
    for a in spec_actions:
        k = next((i for i, e in enumerate(events) if e.t >= a.t), None)
        e = events.pop(k) if k is not None else None
        if a == action:
            matched = e
            break
    what = action.kind.value.replace("_", " ")
    if matched is not None:
        if is_order:
            text = (f"{what} at {fmt.price(action.value, tick)} placed at t = {action.t:g} s fired at "
                    f"t = {matched.t:g} s.")
        else:
            text = f"{what} at t = {action.t:g} s: {kind.value.replace('_', ' ')} at t = {matched.t:g} s."
        return ActionOutcome(action, matched, text)
    closing = [e for e in res.events if e.kind in _CLOSING and _closes(e, track)]
    gone = next((e for e in closing if not track.is_open(e.t)), None)
    if gone is not None and gone.t <= action.t:
        why = f"{label} was already closed at t = {gone.t:g} s ({gone.kind.value.replace('_', ' ')})"
    elif gone is not None:
        why = (f"{label} was closed at t = {gone.t:g} s ({gone.kind.value.replace('_', ' ')}) before "
               + (f"the last price reached {fmt.price(action.value, tick)}" if is_order else "the action took effect"))
    elif is_order:
        why = f"the last price did not reach {fmt.price(action.value, tick)} while {label} was open"
    else:
        why = f"the run has no {kind.value.replace('_', ' ')} event for it"
    if is_order:
        return ActionOutcome(action, None, f"{what} at {fmt.price(action.value, tick)} placed at t = {action.t:g} s "
                                           f"never fired: {why}.")
    return ActionOutcome(action, None, f"{what} at t = {action.t:g} s had no effect (no "
                                       f"{kind.value.replace('_', ' ')} event in the run): {why}.")


_CLOSING: Final = frozenset({EventKind.LIQUIDATION_FILL, EventKind.PARTIAL_LIQUIDATION, EventKind.BACKSTOP,
                             EventKind.ADL, EventKind.POSITION_REDUCED})


def _closes(e: Event, track: Track) -> bool:
    """Whether ``e`` takes size off ``track``'s position (an ``adl`` event names the counterparty)."""
    if e.kind is EventKind.ADL:
        return int(e.detail.get("against", -1)) == track.index
    return e.position == track.label


# ---------------------------------------------------------------------- changed copies of a scenario


def with_margin_mode(scenario: Scenario, profile: Profile, mode: MarginMode) -> tuple[Scenario, str]:
    """The same positions and money with every position in ``mode``; returns (scenario, note).

    To cross: every isolated margin goes back into the wallet (the same money backs the same
    positions). To isolated: each position takes its opening margin
    (:func:`core.quote.position_margin`) out of the wallet; when the wallet holds less than the
    margins together, they are scaled down in proportion and the note says so. The two shipped
    hedge lessons are each other's image under this mapping.
    """
    acct = scenario.account
    wallet = acct.wallet_usd
    note = ""
    if mode is MarginMode.CROSS:
        for p in acct.positions:
            if p.mode is MarginMode.ISOLATED:
                wallet += position_margin(profile, p)
        positions = tuple(replace(p, mode=MarginMode.CROSS, margin_usd=None) for p in acct.positions)
    else:
        need = [position_margin(profile, replace(p, mode=MarginMode.ISOLATED)) if p.mode is MarginMode.CROSS
                else 0.0 for p in acct.positions]
        total = math.fsum(need)
        scale = 1.0
        if total > wallet + 1e-9:
            scale = wallet / total if total > 0 else 1.0
            note = (f"the wallet holds {wallet:,.2f} but the opening margins need {total:,.2f}: "
                    f"each isolated margin is scaled to {scale:.1%} of its opening margin")
        positions = tuple(
            replace(p, mode=MarginMode.ISOLATED, margin_usd=max(need[i] * scale, 1e-9))
            if p.mode is MarginMode.CROSS else p
            for i, p in enumerate(acct.positions))
        wallet = max(wallet - total * scale, 0.0)
    return replace(scenario, account=acct.with_(wallet_usd=wallet, positions=positions)), note


def with_actions(scenario: Scenario, actions: Sequence[Action]) -> Scenario:
    """``scenario`` with its ``simulation.actions`` replaced (the rest of the section unchanged)."""
    return replace(scenario, simulation=replace(simulation_spec(scenario), actions=tuple(actions)))


def validate_actions(actions: Sequence[Action], *, n_positions: int, t_end: float) -> None:
    """Refuse at once what no run could accept: a time outside [0, ``t_end``], a position index out
    of range, a value or order size out of its range (:class:`InvalidInputError` naming
    ``simulation.actions[k].<field>``). What only the run can tell (a leverage above the tier's
    maximum) is the simulator's to refuse."""
    for k, a in enumerate(actions):
        where = f"simulation.actions[{k}]"
        if not (math.isfinite(a.t) and a.t >= 0):
            raise InvalidInputError(f"{where}.t", f"must be a time >= 0 s, got {a.t!r}")
        if a.t > t_end:
            raise InvalidInputError(f"{where}.t", f"{a.t:g} s is after the end of the path ({t_end:g} s)")
        if not 0 <= a.position < n_positions:
            raise InvalidInputError(f"{where}.position", f"must be 0-{n_positions - 1}, got {a.position}")
        lo = 1.0 if a.kind is ActionKind.CHANGE_LEVERAGE else 0.0
        if not (math.isfinite(a.value) and (a.value >= lo if lo else a.value > 0)):
            raise InvalidInputError(f"{where}.value", f"must be {'>= 1' if lo else '> 0'}, got {a.value!r}")
        if a.qty is not None and not (math.isfinite(a.qty) and a.qty > 0):
            raise InvalidInputError(f"{where}.qty", f"must be > 0, got {a.qty!r}")


def default_sigma(scenario: Scenario) -> float:
    """Annual volatility to start the odds and the fan from: the path's own if it is GBM, else 80 %."""
    path = simulation_spec(scenario).path
    return float(path.get("sigma", 0.8)) if path.get("kind") == "gbm" else 0.8


# ------------------------------------------------------------------------------ the background job


@dataclass(frozen=True, slots=True, eq=False)
class Outcome:
    """One run of the isolated-versus-cross comparison: a result, or the reason it could not run."""

    mode: MarginMode
    scenario: Scenario | None
    result: SimulationResult | None
    error: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class TimelineRun:
    """What one background job produced for one tuple of actions."""

    actions: tuple[Action, ...]
    timeline: Timeline
    outcomes: tuple[Outcome, ...]
    seconds: float


def run_timeline(scenario: Scenario, profiles: ProfileSet, base_dir: Path | None,
                 actions: tuple[Action, ...]) -> TimelineRun:
    """Run ``scenario`` with ``actions``, build its timeline, and run it again with every position
    isolated and every position cross (:func:`with_margin_mode`; a mode the engine refuses is an
    :class:`Outcome` with the reason). Raises what :func:`core.simulate.run_scenario` raises for the
    scenario itself."""
    t0 = time.perf_counter()
    sc = with_actions(scenario, actions)
    profile = profiles.get(sc.exchange)
    result = run_scenario(sc, profiles, base_dir=base_dir)
    timeline = build_timeline(sc, profile, result)
    outcomes = []
    for mode in (MarginMode.ISOLATED, MarginMode.CROSS):
        try:
            other, note = with_margin_mode(sc, profile, mode)
            outcomes.append(Outcome(mode, other, run_scenario(other, profiles, base_dir=base_dir), note=note))
        except MarginEngineError as exc:
            outcomes.append(Outcome(mode, None, None, error=str(exc)))
    return TimelineRun(actions=actions, timeline=timeline, outcomes=tuple(outcomes),
                       seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------------- Monte Carlo fan


QUANTILES: Final = (0.05, 0.25, 0.5, 0.75, 0.95)
#: The fan keeps every simulated value for its quantiles: 20 million doubles are 160 MB.
MAX_FAN_VALUES: Final = 20_000_000


@dataclass(frozen=True, slots=True)
class FanSpec:
    """A validated Monte Carlo fan: paths from the mark at ``t_start`` against one position's
    liquidation price (NaN: no open position on the path, nothing to touch)."""

    t_start: float
    mark: float
    label: str
    side: int
    liquidation_price: float
    closed_form: float  # core.risk.liquidation_probability over the same horizon
    sigma: float  # annual
    horizon_s: float
    n_paths: int
    n_steps: int
    seed: int
    chunk: int


@dataclass(frozen=True, slots=True, eq=False)
class FanResult:
    """Quantiles of ``n_paths`` GBM paths from the cursor's mark, and how many touched the LP."""

    t: np.ndarray  # seconds after the cursor, shape (n_steps + 1,)
    quantiles: np.ndarray  # shape (5, n_steps + 1): 5 %, 25 %, 50 %, 75 %, 95 %
    samples: np.ndarray  # a few whole paths, shape (k, n_steps + 1)
    t_start: float
    mark: float
    label: str
    liquidation_price: float
    touch_fraction: float  # Monte Carlo, Brownian-bridge corrected between steps
    closed_form: float  # core.risk.liquidation_probability
    n_paths: int
    seconds: float

    @property
    def paths_per_second(self) -> float:
        return self.n_paths / self.seconds if self.seconds > 0 else math.inf


def fan_spec(timeline: Timeline, t: float, *, sigma: float, horizon_s: float, n_paths: int = 20_000,
             n_steps: int = 200, seed: int = 0, position: int | None = None, chunk: int = 1_000) -> FanSpec:
    """Check a fan's inputs (each refusal names its field and range) and pick its barrier: the
    liquidation price at ``t`` of track ``position``, or of the first open position on the path."""
    if not (math.isfinite(sigma) and 0 < sigma <= 20):
        raise InvalidInputError("volatility", f"must lie in (0, 2000 %], got {sigma:.0%}")
    if not (math.isfinite(horizon_s) and 0 < horizon_s <= 10 * SECONDS_PER_YEAR):
        raise InvalidInputError("horizon", f"must lie in (0 s, 10 years], got {horizon_s!r}")
    if not 1 <= n_paths <= 1_000_000:
        raise InvalidInputError("paths", f"must lie in 1-1,000,000, got {n_paths}")
    if not 1 <= n_steps <= 5_000:
        raise InvalidInputError("steps", f"must lie in 1-5,000, got {n_steps}")
    if n_paths * (n_steps + 1) > MAX_FAN_VALUES:
        raise InvalidInputError("paths", f"paths x (steps + 1) must be <= {MAX_FAN_VALUES:,} (the fan keeps "
                                         f"every value for its quantiles), got {n_paths * (n_steps + 1):,}")
    mark = timeline.mark_at(t)
    candidates = [tr for tr in timeline.tracks if tr.on_path and tr.is_open(t)]
    if position is not None:
        candidates = [tr for tr in candidates if tr.index == position] or candidates
    if not candidates:
        return FanSpec(t_start=t, mark=mark, label="(no open position)", side=1, liquidation_price=math.nan,
                       closed_form=0.0, sigma=sigma, horizon_s=horizon_s, n_paths=n_paths, n_steps=n_steps,
                       seed=seed, chunk=chunk)
    track = candidates[0]
    lp = float(track.liquidation[track.k_at(t)])
    closed = float(liquidation_probability(side=track.side.sign, mark=mark, liquidation_price=lp, sigma=sigma,
                                           horizon=horizon_s / SECONDS_PER_YEAR))
    return FanSpec(t_start=t, mark=mark, label=track.label, side=track.side.sign, liquidation_price=lp,
                   closed_form=closed, sigma=sigma, horizon_s=horizon_s, n_paths=n_paths, n_steps=n_steps,
                   seed=seed, chunk=chunk)


def run_fan(spec: FanSpec, *, cancelled: Callable[[], bool] = lambda: False,
            progress: Callable[[int], None] = lambda _pct: None) -> FanResult | None:
    """Draw the fan's :func:`core.prices.gbm_paths` (no drift) in chunks of ``spec.chunk`` paths.

    ``cancelled`` is asked before every chunk (True: stop and return None); ``progress`` receives
    the percentage done after every chunk. Returns the quantiles over the paths at every step, a
    few whole paths and the share of paths that touched the liquidation price, where between two
    steps a path that ends on the safe side both times touched it with the Brownian-bridge
    probability ``exp(-2 ln(S_k/b) ln(S_k+1/b) / (sigma^2 dt))``.
    """
    t0 = time.perf_counter()
    n_paths, n_steps, lp, sign = spec.n_paths, spec.n_steps, spec.liquidation_price, spec.side
    dt = spec.horizon_s / n_steps
    sig = spec.sigma / math.sqrt(SECONDS_PER_YEAR)  # per second
    rng = np.random.default_rng(spec.seed)
    out = np.empty((n_paths, n_steps + 1))
    p_touch = np.zeros(n_paths)
    done = 0
    while done < n_paths:
        if cancelled():
            return None
        m = min(spec.chunk, n_paths - done)
        paths = gbm_paths(s0=spec.mark, mu=0.0, sigma=sig, dt=dt, n=n_steps, n_paths=m, seed=rng)
        out[done:done + m] = paths
        if math.isfinite(lp):
            x = sign * np.log(paths / lp)  # > 0 on the safe side
            hit = np.any(x <= 0, axis=1)
            a, b = x[:, :-1], x[:, 1:]
            with np.errstate(over="ignore", under="ignore"):
                cross = np.exp(-2.0 * np.maximum(a, 0) * np.maximum(b, 0) / (sig * sig * dt)) if sig > 0 else 0 * a
            survive = np.prod(1.0 - cross, axis=1)
            p_touch[done:done + m] = np.where(hit, 1.0, 1.0 - survive)
        done += m
        progress(int(100 * done / n_paths))
    if cancelled():
        return None
    quantiles = np.quantile(out, QUANTILES, axis=0)  # here, not in the GUI thread: 20M values take ~0.1 s
    return FanResult(t=np.linspace(0.0, spec.horizon_s, n_steps + 1), quantiles=quantiles,
                     samples=out[: min(30, n_paths)].copy(), t_start=spec.t_start, mark=spec.mark,
                     label=spec.label, liquidation_price=lp,
                     touch_fraction=float(np.mean(p_touch)) if math.isfinite(lp) else 0.0,
                     closed_form=spec.closed_form, n_paths=n_paths, seconds=time.perf_counter() - t0)

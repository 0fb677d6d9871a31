"""The scenario theatre's view-model: a simulated scenario played back on a cursor.

:class:`TheatreSession` holds one loaded scenario and the exchange profiles, runs
:func:`core.simulate.run_scenario` on a one-worker executor (never on the GUI thread), and exposes a
playback cursor over the result's time axis (play, pause, speed, seek). Widgets subscribe to
``resultChanged`` and ``cursorChanged`` and read everything from :attr:`TheatreSession.timeline`:
they never compute a margin or replay the ledger themselves.

A :class:`Timeline` is the result plus what the result implies at any time ``t`` (pure functions,
no Qt): each position's size, liquidation and bankruptcy price as step series (re-quoted by
:func:`core.quote.quote_account` after every event, so the lines move when margin is added, a tier
is stepped down or a partial liquidation shrinks the position), the insurance fund's balance, every
ledger party's balance, and the auto-deleveraging queue ranked by :func:`core.simulate.adl_ranking`.

Every edit of the scripted actions is a :class:`ReplaceActions` command on the session's own
``QUndoStack``: it stores the frozen action tuples before and after. An edit is validated by running
the simulation with it; only a run that succeeds is pushed, so a refused edit leaves the state as it
was and ``runFailed`` says why, naming the field. Results are cached per action tuple, so undo and
redo are instant.

The Monte Carlo fan (:meth:`TheatreSession.start_fan`) draws :func:`core.prices.gbm_paths` from the
cursor's mark in chunks on its own one-worker executor, reports progress by signal, checks a cancel
flag between chunks and never touches a widget.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from core.errors import InvalidInputError, MarginEngineError
from core.ledger import Transfer, replay
from core.margin import unrealized_pnl
from core.model import Account, MarginMode, Side
from core.prices import SECONDS_PER_YEAR, gbm_paths
from core.profiles import Profile, ProfileSet
from core.quote import position_margin, quote_account
from core.risk import distance_to_liquidation, liquidation_probability
from core.scenario import Scenario, load_scenario
from core.simulate import (
    FUND,
    WALLET,
    Action,
    ActionKind,
    Counterparty,
    Event,
    EventKind,
    SimulationResult,
    adl_ranking,
    position_names,
    run_scenario,
)

#: Playback speeds offered, in simulated seconds per real second.
SPEEDS: Final = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3_600.0, 86_400.0)
FRAME_MS: Final = 33
#: Samples of the liquidation/bankruptcy lines between events when they depend on the mark
#: (two or more cross positions on the path's symbol: each one's price holds the others at the mark).
MARK_SAMPLES: Final = 300

_REDUCING: Final = frozenset({EventKind.LIQUIDATION_FILL, EventKind.PARTIAL_LIQUIDATION,
                              EventKind.POSITION_REDUCED})


# ------------------------------------------------------------------------------- pure timeline part


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

    @property
    def t0(self) -> float:
        return float(self.result.path.t[0])

    @property
    def t_end(self) -> float:
        return float(self.result.path.t[-1])

    def tick_at(self, t: float) -> int:
        return max(int(np.searchsorted(self.result.path.t, t, side="right")) - 1, 0)

    def mark_at(self, t: float) -> float:
        return float(self.result.path.mark[self.tick_at(t)])

    def last_at(self, t: float) -> float:
        return float(self.result.path.last[self.tick_at(t)])

    def events_until(self, t: float) -> int:
        """How many events have happened at or before ``t``."""
        return int(np.searchsorted(self.event_t, t, side="right"))

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
        """The counterparties ranked by :func:`core.simulate.adl_ranking` at the mark at ``t``.

        Sizes and margins are after the events at or before ``t`` (strictly before if not
        ``inclusive``: the queue the simulator ranked when it deleveraged at ``t``).
        """
        mark = self.mark_at(t)
        bal = self.balances_at(t, inclusive=inclusive)
        n = self.events_until(t) if inclusive else int(np.searchsorted(self.event_t, t, side="left"))
        taken: dict[str, float] = {}
        for e in self.result.events[:n]:
            if e.kind is EventKind.ADL:
                taken[e.position] = taken.get(e.position, 0.0) + e.qty
        open_sides = {tr.side.sign for tr in self.tracks
                      if tr.on_path and np.nan_to_num(tr.qty[tr.k_at(t, inclusive=inclusive)]) > 0}
        cps = self.counterparties
        qtys = [max(c.qty - taken.get(c.name, 0.0), 0.0) for c in cps]
        margins = [bal.get(c.party, c.margin) for c in cps]
        order, scores, eligible = adl_ranking(
            sides=[c.side.sign for c in cps], qtys=qtys, entries=[c.entry for c in cps], margins=margins,
            mark=mark, against=sorted(open_sides))
        return [AdlRow(rank=r + 1, name=cps[k].name, side=cps[k].side, qty=qtys[k], entry=cps[k].entry,
                       margin=margins[k], unrealized_pnl=float(unrealized_pnl(side=cps[k].side.sign, qty=qtys[k],
                                                            entry=cps[k].entry, mark=mark)),
                       score=float(scores[k]), eligible=bool(eligible[k]))
                for r, k in enumerate(order)]

    def odds_at(self, t: float, *, sigma: float, horizon_s: float) -> list[Odds]:
        """For every open position on the path: the chance of liquidation within ``horizon_s``
        seconds at annual volatility ``sigma`` (:func:`core.risk.liquidation_probability`)."""
        mark = self.mark_at(t)
        out = []
        for tr in self.tracks:
            k = tr.k_at(t)
            if not tr.on_path or not np.nan_to_num(tr.qty[k]) > 0:
                continue
            lp = float(tr.liquidation[k])
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
    sim = scenario.simulation
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
    return Timeline(scenario=scenario, result=result, tracks=tracks, counterparties=sim.counterparties if sim else (),
                    opening=opening, transfer_t=tr_t, fund_t=np.array(f_t), fund_balance=np.array(f_b),
                    event_t=ev_t)


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
    if scenario.simulation is None:
        raise InvalidInputError("simulation", "missing: this scenario has no simulation section")
    return replace(scenario, simulation=replace(scenario.simulation, actions=tuple(actions)))


@dataclass(frozen=True, slots=True, eq=False)
class Outcome:
    """One run of the isolated-versus-cross comparison: a result, or the reason it could not run."""

    mode: MarginMode
    scenario: Scenario | None
    result: SimulationResult | None
    error: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class TheatreRun:
    """What one background job produced for one tuple of actions."""

    actions: tuple[Action, ...]
    timeline: Timeline
    outcomes: tuple[Outcome, ...]
    seconds: float


def _run_all(scenario: Scenario, profiles: ProfileSet, base_dir: Path | None,
             actions: tuple[Action, ...]) -> TheatreRun:
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
    return TheatreRun(actions=actions, timeline=timeline, outcomes=tuple(outcomes),
                      seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------------- Monte Carlo fan


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


QUANTILES: Final = (0.05, 0.25, 0.5, 0.75, 0.95)
#: The fan keeps every simulated value for its quantiles: 20 million doubles are 160 MB.
MAX_FAN_VALUES: Final = 20_000_000


def _fan_job(*, mark: float, lp: float, sign: int, sigma_annual: float, horizon_s: float, n_paths: int,
             n_steps: int, seed: int, chunk: int, cancel: threading.Event, progress: Any) -> dict[str, Any] | None:
    """The worker's part: plain numpy, a cancel check between chunks, progress through a callback.

    Returns the quantiles over the paths at every step, a few whole paths and the touch
    probability, or None when cancelled.
    """
    t0 = time.perf_counter()
    dt = horizon_s / n_steps
    sig = sigma_annual / math.sqrt(SECONDS_PER_YEAR)  # per second
    rng = np.random.default_rng(seed)
    out = np.empty((n_paths, n_steps + 1))
    p_touch = np.zeros(n_paths)
    done = 0
    while done < n_paths:
        if cancel.is_set():
            return None
        m = min(chunk, n_paths - done)
        paths = gbm_paths(s0=mark, mu=0.0, sigma=sig, dt=dt, n=n_steps, n_paths=m, seed=rng)
        out[done:done + m] = paths
        if math.isfinite(lp):
            # a step touches the barrier if an end does; otherwise the Brownian bridge between the two
            # ends crosses it with probability exp(-2 ln(S_k/b) ln(S_k+1/b) / (sigma^2 dt))
            x = sign * np.log(paths / lp)  # > 0 on the safe side
            hit = np.any(x <= 0, axis=1)
            a, b = x[:, :-1], x[:, 1:]
            with np.errstate(over="ignore", under="ignore"):
                cross = np.exp(-2.0 * np.maximum(a, 0) * np.maximum(b, 0) / (sig * sig * dt)) if sig > 0 else 0 * a
            survive = np.prod(1.0 - cross, axis=1)
            p_touch[done:done + m] = np.where(hit, 1.0, 1.0 - survive)
        done += m
        progress(int(100 * done / n_paths))
    if cancel.is_set():
        return None
    quantiles = np.quantile(out, QUANTILES, axis=0)  # here, not in the GUI thread: 20M values take ~0.1 s
    return {"quantiles": quantiles, "samples": out[: min(30, n_paths)].copy(),
            "touch": float(np.mean(p_touch)) if math.isfinite(lp) else 0.0, "seconds": time.perf_counter() - t0}


# ----------------------------------------------------------------------------------- undo command


class ReplaceActions(QUndoCommand):
    """Swap the scripted actions between two frozen tuples (the results come from the cache)."""

    def __init__(self, session: TheatreSession, *, before: tuple[Action, ...], after: tuple[Action, ...],
                 text: str) -> None:
        super().__init__(text)
        self._session = session
        self.before = before
        self.after = after

    def redo(self) -> None:
        self._session._install_actions(self.after)

    def undo(self) -> None:
        self._session._install_actions(self.before)


# ------------------------------------------------------------------------------------- the session


@dataclass(slots=True)
class _Loaded:
    scenario: Scenario
    path: Path | None
    base_dir: Path | None
    cache: dict[tuple[Action, ...], TheatreRun] = field(default_factory=dict)


class _Bridge(QObject):
    """Lives in the GUI thread; the workers emit through it, so slots run in the GUI thread."""

    runDone = Signal(object)
    fanProgress = Signal(int, int)
    fanDone = Signal(int, object)


class TheatreSession(QObject):
    """One scenario played back: the simulation result, a cursor, the actions' undo stack, the fan.

    Signals
    -------
    scenarioChanged : a scenario was opened (its name, description and actions are new).
    resultChanged : :attr:`timeline` and :attr:`outcomes` are new (after open or an action edit).
    cursorChanged(float) : the playback cursor moved (seconds on the path's time axis).
    playingChanged(bool), busyChanged(bool), runFailed(str) : status; ``runFailed`` names the field.
    playbackFinished : the cursor reached the end while playing.
    fanProgress(int) / fanFinished(object) / fanCancelled / fanFailed(str) : the Monte Carlo fan.
    """

    scenarioChanged = Signal()
    resultChanged = Signal()
    cursorChanged = Signal(float)
    playingChanged = Signal(bool)
    speedChanged = Signal(float)
    busyChanged = Signal(bool)
    runFailed = Signal(str)
    playbackFinished = Signal()
    fanProgress = Signal(int)
    fanFinished = Signal(object)
    fanCancelled = Signal()
    fanFailed = Signal(str)

    def __init__(self, profiles: ProfileSet, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.profiles = profiles
        self.undo_stack = QUndoStack(self)
        self._loaded: _Loaded | None = None
        self._run: TheatreRun | None = None
        self._cursor = 0.0
        self._speed = SPEEDS[0]
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._frame)
        self._last_frame = 0.0
        self._sim_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="theatre-sim")
        self._fan_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="theatre-fan")
        self._bridge = _Bridge(self)
        self._bridge.runDone.connect(self._on_run_done)
        self._bridge.fanProgress.connect(self._on_fan_progress)
        self._bridge.fanDone.connect(self._on_fan_done)
        self._generation = 0
        self._pending: dict[int, tuple[str, tuple[Action, ...], tuple[Action, ...], _Loaded]] = {}
        self._busy = 0
        self._inflight: set[int] = set()
        self._fan_id = 0
        self._fan_cancel: threading.Event | None = None
        self._fan_future: Future[Any] | None = None
        self.last_error = ""
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close)  # never leave a worker running at exit

    # -- state ---------------------------------------------------------------------------------

    @property
    def scenario(self) -> Scenario | None:
        return None if self._loaded is None else self._loaded.scenario

    @property
    def file_path(self) -> Path | None:
        return None if self._loaded is None else self._loaded.path

    @property
    def actions(self) -> tuple[Action, ...]:
        return () if self._run is None else self._run.actions

    @property
    def timeline(self) -> Timeline | None:
        return None if self._run is None else self._run.timeline

    @property
    def result(self) -> SimulationResult | None:
        return None if self._run is None else self._run.timeline.result

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return () if self._run is None else self._run.outcomes

    @property
    def run_seconds(self) -> float:
        return math.nan if self._run is None else self._run.seconds

    @property
    def cursor(self) -> float:
        return self._cursor

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def busy(self) -> bool:
        return self._busy > 0

    def current_event_index(self) -> int:
        """Index of the last event at or before the cursor (-1: none yet)."""
        tl = self.timeline
        return -1 if tl is None else tl.events_until(self._cursor) - 1

    # -- opening ---------------------------------------------------------------------------------

    def open_file(self, path: Path | str) -> None:
        """Load and validate a scenario file, then run it in the background.

        Raises :class:`core.errors.ScenarioError` (file and field named) for a file that cannot be
        read or has no simulation section; the session is unchanged then.
        """
        path = Path(path)
        sc = load_scenario(path)
        self.open_scenario(sc, path=path, base_dir=path.parent)

    def open_scenario(self, scenario: Scenario, *, path: Path | None = None, base_dir: Path | None = None) -> None:
        """Take ``scenario`` (validated here: a missing or bad simulation section raises
        :class:`InvalidInputError` and nothing changes) and run it."""
        if scenario.simulation is None:
            raise InvalidInputError("simulation", "missing: this scenario has no simulation to play")
        spec = scenario.simulation
        self.profiles.get(scenario.exchange)  # an unknown profile is refused before anything changes
        self.pause()
        self.cancel_fan()
        self._pending.clear()  # edits still running for the previous scenario are dropped
        # the scenario in view stays until the new one has run: a file the engine refuses (runFailed)
        # leaves the theatre as it was
        self._submit(spec.actions, kind="open", loaded=_Loaded(scenario=scenario, path=path, base_dir=base_dir))

    def close(self) -> None:
        """Stop playback and the workers (also called when the application quits). Idempotent."""
        self.pause()
        self.cancel_fan()
        self._sim_pool.shutdown(wait=True, cancel_futures=True)
        self._fan_pool.shutdown(wait=True, cancel_futures=True)

    # -- background runs -------------------------------------------------------------------------

    def _submit(self, actions: Sequence[Action], *, kind: str, before: tuple[Action, ...] = (),
                loaded: _Loaded | None = None) -> None:
        loaded = loaded or self._loaded
        assert loaded is not None
        acts = tuple(actions)
        cached = loaded.cache.get(acts)
        self._generation += 1
        gen = self._generation
        self._pending[gen] = (kind, before, acts, loaded)
        if cached is not None:
            self._on_run_done((gen, cached))
            return
        self._inflight.add(gen)
        self._set_busy(+1)

        def job() -> None:
            try:
                payload: Any = _run_all(loaded.scenario, self.profiles, loaded.base_dir, acts)
            except MarginEngineError as exc:
                payload = exc
            except Exception as exc:
                payload = RuntimeError(f"{type(exc).__name__}: {exc}")
            self._bridge.runDone.emit((gen, payload))

        self._sim_pool.submit(job)

    def _on_run_done(self, item: tuple[int, Any]) -> None:
        gen, payload = item
        if gen in self._inflight:
            self._inflight.discard(gen)
            self._set_busy(-1)
        info = self._pending.pop(gen, None)
        if info is None:
            return  # a run for a scenario that has since been replaced
        kind, before, acts, loaded = info
        if isinstance(payload, BaseException):
            self.last_error = str(payload)
            self.runFailed.emit(self.last_error)
            return
        loaded.cache[acts] = payload
        self.last_error = ""
        if kind == "open":
            self._loaded = loaded
            self.undo_stack.clear()
            self.scenarioChanged.emit()
            self._install_actions(acts)
            self.seek(payload.timeline.t0)
        elif loaded is self._loaded:
            self.undo_stack.push(ReplaceActions(self, before=before, after=acts, text=kind))

    def _set_busy(self, delta: int) -> None:
        was = self._busy > 0
        self._busy = max(self._busy + delta, 0)
        if (self._busy > 0) != was:
            self.busyChanged.emit(self._busy > 0)

    def _install_actions(self, acts: tuple[Action, ...]) -> None:
        """Show the cached run for ``acts`` (the undo command's redo/undo)."""
        assert self._loaded is not None
        run = self._loaded.cache[acts]
        self._run = run
        self.resultChanged.emit()
        self._cursor = min(max(self._cursor, run.timeline.t0), run.timeline.t_end)
        self.cursorChanged.emit(self._cursor)

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until the background run has delivered (for scripts and the screenshot tool)."""
        end = time.perf_counter() + timeout_s
        while self._busy > 0 and time.perf_counter() < end:
            QCoreApplication.processEvents()
            time.sleep(0.002)
        QCoreApplication.processEvents()
        return self._busy == 0

    # -- editing the scripted actions --------------------------------------------------------------

    def set_actions(self, actions: Sequence[Action], text: str = "Edit actions") -> None:
        """Replace the scripted actions: validated, simulated in the background, pushed on success.

        Field problems (a time after the path's end, a position index out of range, a value out of
        its range) raise :class:`InvalidInputError` at once; a refusal by the engine during the run
        arrives as ``runFailed``. Either way nothing changes.
        """
        if self._loaded is None or self._run is None:
            raise InvalidInputError("scenario", "open a scenario first")
        acts = tuple(actions)
        n_pos = len(self._loaded.scenario.account.positions)
        t_end = self._run.timeline.t_end
        for k, a in enumerate(acts):
            where = f"simulation.actions[{k}]"
            if not (math.isfinite(a.t) and a.t >= 0):
                raise InvalidInputError(f"{where}.t", f"must be a time >= 0 s, got {a.t!r}")
            if a.t > t_end:
                raise InvalidInputError(f"{where}.t", f"{a.t:g} s is after the end of the path ({t_end:g} s)")
            if not 0 <= a.position < n_pos:
                raise InvalidInputError(f"{where}.position", f"must be 0-{n_pos - 1}, got {a.position}")
            lo = 1.0 if a.kind is ActionKind.CHANGE_LEVERAGE else 0.0
            if not (math.isfinite(a.value) and (a.value >= lo if lo else a.value > 0)):
                raise InvalidInputError(f"{where}.value", f"must be {'>= 1' if lo else '> 0'}, got {a.value!r}")
            if a.qty is not None and not (math.isfinite(a.qty) and a.qty > 0):
                raise InvalidInputError(f"{where}.qty", f"must be > 0, got {a.qty!r}")
        if acts == self.actions:
            return
        self._submit(acts, kind=text, before=self.actions)

    def add_action(self, action: Action) -> None:
        self.set_actions(sorted((*self.actions, action), key=lambda a: a.t), f"Add {action.kind.value}")

    def replace_action(self, index: int, action: Action) -> None:
        acts = list(self.actions)
        acts[index] = action
        self.set_actions(acts, f"Edit {action.kind.value}")

    def remove_action(self, index: int) -> None:
        acts = list(self.actions)
        gone = acts.pop(index)
        self.set_actions(acts, f"Remove {gone.kind.value}")

    # -- playback ---------------------------------------------------------------------------------

    def seek(self, t: float) -> None:
        tl = self.timeline
        if tl is None:
            return
        t = min(max(float(t), tl.t0), tl.t_end)
        self._cursor = t
        self.cursorChanged.emit(t)

    def seek_event(self, index: int) -> None:
        """Move the cursor to the time of ``result.events[index]``."""
        res = self.result
        if res is not None and 0 <= index < len(res.events):
            self.seek(res.events[index].t)

    def step_event(self, direction: int) -> None:
        """Jump to the next (+1) or previous (-1) event time."""
        tl = self.timeline
        if tl is None or not len(tl.event_t):
            return
        times = np.unique(tl.event_t)
        if direction > 0:
            k = int(np.searchsorted(times, self._cursor, side="right"))
            self.seek(times[k] if k < times.size else tl.t_end)
        else:
            k = int(np.searchsorted(times, self._cursor, side="left")) - 1
            self.seek(times[k] if k >= 0 else tl.t0)

    def set_speed(self, speed: float) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise InvalidInputError("speed", f"must be > 0 simulated seconds per second, got {speed!r}")
        self._speed = float(speed)
        self.speedChanged.emit(self._speed)

    def suggested_speed(self) -> float:
        """The slowest offered speed that plays the whole path within about 15 s."""
        tl = self.timeline
        if tl is None:
            return SPEEDS[0]
        span = tl.t_end - tl.t0
        return next((s for s in SPEEDS if span / s <= 15.0), SPEEDS[-1])

    def play(self) -> None:
        tl = self.timeline
        if tl is None or self._timer.isActive():
            return
        if self._cursor >= tl.t_end:
            self.seek(tl.t0)
        self._last_frame = time.perf_counter()
        self._timer.start()
        self.playingChanged.emit(True)

    def pause(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.playingChanged.emit(False)

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def _frame(self) -> None:
        tl = self.timeline
        if tl is None:
            self.pause()
            return
        now = time.perf_counter()
        dt = min(now - self._last_frame, 0.25)  # a stalled frame does not jump the cursor far
        self._last_frame = now
        t = self._cursor + self._speed * dt
        if t >= tl.t_end:
            self.seek(tl.t_end)
            self.pause()
            self.playbackFinished.emit()
        else:
            self.seek(t)

    # -- Monte Carlo fan --------------------------------------------------------------------------

    def default_sigma(self) -> float:
        """Annual volatility to start from: the path's own if it is GBM, else 80 %."""
        sc = self.scenario
        path = sc.simulation.path if sc is not None and sc.simulation is not None else {}
        return float(path.get("sigma", 0.8)) if path.get("kind") == "gbm" else 0.8

    def start_fan(self, *, sigma: float, horizon_s: float, n_paths: int = 20_000, n_steps: int = 200,
                  seed: int = 0, position: int | None = None, chunk: int = 1_000) -> None:
        """Draw ``n_paths`` GBM paths (annual volatility ``sigma``, no drift) of ``horizon_s`` seconds
        from the mark at the cursor, off the GUI thread. ``position``: the track whose liquidation
        price is the barrier (default: the first open position on the path)."""
        tl = self.timeline
        if tl is None:
            raise InvalidInputError("scenario", "open a scenario first")
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
        self.cancel_fan()
        t = self._cursor
        mark = tl.mark_at(t)
        candidates = [tr for tr in tl.tracks if tr.on_path and np.nan_to_num(tr.qty[tr.k_at(t)]) > 0]
        if position is not None:
            candidates = [tr for tr in candidates if tr.index == position] or candidates
        track = candidates[0] if candidates else None
        lp = float(track.liquidation[track.k_at(t)]) if track is not None else math.nan
        sign = track.side.sign if track is not None else 1
        label = track.label if track is not None else "(no open position)"
        closed = (float(liquidation_probability(side=sign, mark=mark, liquidation_price=lp, sigma=sigma,
                                                horizon=horizon_s / SECONDS_PER_YEAR))
                  if track is not None else 0.0)
        self._fan_id += 1
        fid = self._fan_id
        cancel = threading.Event()
        self._fan_cancel = cancel
        bridge = self._bridge
        meta = dict(t_start=t, mark=mark, label=label, liquidation_price=lp, closed_form=closed,
                    n_paths=n_paths, n_steps=n_steps, horizon_s=horizon_s)

        def job() -> None:
            try:
                out: Any = _fan_job(mark=mark, lp=lp, sign=sign, sigma_annual=sigma, horizon_s=horizon_s,
                                    n_paths=n_paths, n_steps=n_steps, seed=seed, chunk=chunk, cancel=cancel,
                                    progress=lambda pct: bridge.fanProgress.emit(fid, pct))
            except Exception as exc:
                out = exc
            bridge.fanDone.emit(fid, (meta, out))

        self._fan_future = self._fan_pool.submit(job)

    @property
    def fan_running(self) -> bool:
        return self._fan_cancel is not None

    def cancel_fan(self) -> None:
        """Ask the running fan to stop at its next chunk; ``fanCancelled`` follows when it has."""
        if self._fan_cancel is not None:
            self._fan_cancel.set()

    def _on_fan_progress(self, fid: int, pct: int) -> None:
        if fid == self._fan_id:
            self.fanProgress.emit(pct)

    def _on_fan_done(self, fid: int, item: tuple[dict[str, Any], Any]) -> None:
        meta, out = item
        if fid != self._fan_id:
            if out is None:
                self.fanCancelled.emit()  # an earlier fan, replaced by a newer one, has stopped
            return
        self._fan_cancel = None
        if out is None:
            self.fanCancelled.emit()
            return
        if isinstance(out, BaseException):
            self.fanFailed.emit(str(out))
            return
        res = FanResult(t=np.linspace(0.0, meta["horizon_s"], meta["n_steps"] + 1), quantiles=out["quantiles"],
                        samples=out["samples"], t_start=meta["t_start"], mark=meta["mark"],
                        label=meta["label"], liquidation_price=meta["liquidation_price"],
                        touch_fraction=out["touch"], closed_form=meta["closed_form"],
                        n_paths=meta["n_paths"], seconds=out["seconds"])
        self.fanFinished.emit(res)


def event_text(e: Event, tick: float) -> str:
    """A one-line description of an event for the log (numbers from the event itself)."""
    from core import fmt

    parts = [e.kind.value.replace("_", " ")]
    if math.isfinite(e.price):
        parts.append(f"@ {fmt.price(e.price, tick)}")
    if e.qty and e.kind is not EventKind.ORDERS_CANCELLED:
        parts.append(f"qty {fmt.num(round(e.qty, 9))}")
    if e.amount:
        parts.append(f"amount {fmt.money(e.amount)}")
    return " ".join(parts)

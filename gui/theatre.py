"""The scenario theatre's view-model: a simulated scenario played back on a cursor.

:class:`TheatreSession` holds one loaded scenario and the exchange profiles, runs
:func:`core.timeline.run_timeline` on a one-worker executor (never on the GUI thread), and exposes a
playback cursor over the result's time axis. Widgets subscribe to ``resultChanged`` and
``cursorChanged`` and read everything from :attr:`TheatreSession.timeline` (a
:class:`core.timeline.Timeline`, where all the logic without Qt lives): they never compute a margin
or replay the ledger themselves. What stays here is Qt: the workers, the cursor, the signals, the
undo stack, and the playback (a :class:`gui.playback.PlaybackController`).

Every edit of the scripted actions is a :class:`ReplaceActions` command on the session's own
``QUndoStack``: it stores the frozen action tuples before and after. An edit is validated by running
the simulation with it; only a run that succeeds is pushed, so a refused edit leaves the state as it
was and ``runFailed`` says why, naming the field. Results are cached per action tuple, so undo and
redo are instant.

The Monte Carlo fan (:meth:`TheatreSession.start_fan`) runs :func:`core.timeline.run_fan` on its own
one-worker executor, reports progress by signal, checks a cancel flag between chunks and never
touches a widget.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from core.errors import InvalidInputError, MarginEngineError
from core.profiles import ProfileSet
from core.scenario import Scenario, load_scenario
from core.simulate import Action, SimulationResult
from core.timeline import (
    Outcome,
    Timeline,
    TimelineRun,
    action_outcome,
    default_sigma,
    fan_spec,
    run_fan,
    run_timeline,
    simulation_spec,
    validate_actions,
)
from gui.playback import PlaybackController

#: Playback speeds offered, in simulated seconds per real second.
SPEEDS: Final = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3_600.0, 86_400.0)
FRAME_MS: Final = 33


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
    cache: dict[tuple[Action, ...], TimelineRun] = field(default_factory=dict)


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
    actionsReport(str) : after an edit of the actions has run, what the run did with the new or
        changed actions (:func:`core.timeline.action_outcome`): their event, or why there is none.
    speedChanged(float) : the playback speed changed.
    fanProgress(int) / fanFinished(object) / fanCancelled / fanFailed(str) : the Monte Carlo fan.
    """

    scenarioChanged = Signal()
    resultChanged = Signal()
    cursorChanged = Signal(float)
    playingChanged = Signal(bool)
    speedChanged = Signal(float)
    busyChanged = Signal(bool)
    runFailed = Signal(str)
    actionsReport = Signal(str)
    playbackFinished = Signal()
    fanProgress = Signal(int)
    fanFinished = Signal(object)
    fanCancelled = Signal()
    fanFailed = Signal(str)

    def __init__(self, profiles: ProfileSet, parent: QObject | None = None, *,
                 clock: Callable[[], float] | None = time.perf_counter) -> None:
        """``clock``: the playback's source of real time (tests pass a frozen one and step frames
        with ``session.playback.step_frame``)."""
        super().__init__(parent)
        self.profiles = profiles
        self.undo_stack = QUndoStack(self)
        self._loaded: _Loaded | None = None
        self._run: TimelineRun | None = None
        self._cursor = 0.0
        self.playback = PlaybackController(self._advance, speed=SPEEDS[0], frame_ms=FRAME_MS, clock=clock,
                                           can_play=lambda: self.timeline is not None, parent=self)
        self.playback.playingChanged.connect(self.playingChanged)
        self.playback.speedChanged.connect(self.speedChanged)
        self.playback.finished.connect(self.playbackFinished)
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
    def settle_asset(self) -> str:
        """What the run's amounts are in (:attr:`core.timeline.Timeline.settle_asset`; USDT before a run)."""
        return "USDT" if self._run is None else self._run.timeline.settle_asset

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
        return self.playback.playing

    @property
    def speed(self) -> float:
        return self.playback.speed

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
        spec = simulation_spec(scenario)
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
                payload: Any = run_timeline(loaded.scenario, self.profiles, loaded.base_dir, acts)
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
            new = [a for a in acts if a not in before]
            self.actionsReport.emit(" ".join(action_outcome(payload.timeline, a).text for a in new))

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
        validate_actions(acts, n_positions=len(self._loaded.scenario.account.positions),
                         t_end=self._run.timeline.t_end)
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
        if tl is not None and len(tl.event_t):
            self.seek(tl.next_event_time(self._cursor, direction))

    def set_speed(self, speed: float) -> None:
        self.playback.set_speed(speed)

    def suggested_speed(self) -> float:
        """The slowest offered speed that plays the whole path within about 15 s."""
        tl = self.timeline
        if tl is None:
            return SPEEDS[0]
        span = tl.t_end - tl.t0
        return next((s for s in SPEEDS if span / s <= 15.0), SPEEDS[-1])

    def play(self) -> None:
        """Play from the cursor (from the start when the cursor is at the end)."""
        tl = self.timeline
        if tl is None or self.playing:
            return
        if self._cursor >= tl.t_end:
            self.seek(tl.t0)
        self.playback.play()

    def pause(self) -> None:
        self.playback.pause()

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def _advance(self, seconds: float) -> bool:
        """One playback frame: move the cursor ``seconds`` on; True at the end of the path."""
        tl = self.timeline
        if tl is None:
            return True
        t = self._cursor + seconds
        if t >= tl.t_end:
            self.seek(tl.t_end)
            return True
        self.seek(t)
        return False

    # -- Monte Carlo fan --------------------------------------------------------------------------

    def default_sigma(self) -> float:
        """Annual volatility to start from: the path's own if it is GBM, else 80 %."""
        sc = self.scenario
        return 0.8 if sc is None else default_sigma(sc)

    def start_fan(self, *, sigma: float, horizon_s: float, n_paths: int = 20_000, n_steps: int = 200,
                  seed: int = 0, position: int | None = None, chunk: int = 1_000) -> None:
        """Draw ``n_paths`` GBM paths (annual volatility ``sigma``, no drift) of ``horizon_s`` seconds
        from the mark at the cursor, off the GUI thread (:func:`core.timeline.run_fan`). ``position``:
        the track whose liquidation price is the barrier (default: the first open position on the
        path). A refused input raises :class:`InvalidInputError` naming it."""
        tl = self.timeline
        if tl is None:
            raise InvalidInputError("scenario", "open a scenario first")
        spec = fan_spec(tl, self._cursor, sigma=sigma, horizon_s=horizon_s, n_paths=n_paths, n_steps=n_steps,
                        seed=seed, position=position, chunk=chunk)
        self.cancel_fan()
        self._fan_id += 1
        fid = self._fan_id
        cancel = threading.Event()
        self._fan_cancel = cancel
        bridge = self._bridge

        def job() -> None:
            try:
                out: Any = run_fan(spec, cancelled=cancel.is_set,
                                   progress=lambda pct: bridge.fanProgress.emit(fid, pct))
            except Exception as exc:
                out = exc
            bridge.fanDone.emit(fid, out)

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

    def _on_fan_done(self, fid: int, out: Any) -> None:
        if fid != self._fan_id:
            if out is None:
                self.fanCancelled.emit()  # an earlier fan, replaced by a newer one, has stopped
            return
        self._fan_cancel = None
        if out is None:
            self.fanCancelled.emit()
        elif isinstance(out, BaseException):
            self.fanFailed.emit(str(out))
        else:
            self.fanFinished.emit(out)

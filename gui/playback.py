"""Play / pause over simulated time: a frame timer, a speed and a callback that moves the model.

:class:`PlaybackController` knows nothing of what is played. Each frame it asks its ``advance``
callback to move ``speed x dt`` simulated seconds; the callback returns True when there is nothing
left to play, and the controller pauses and emits ``finished``. ``dt`` is the real time since the
last frame read from an injectable clock (default :func:`time.perf_counter`, capped at
``max_frame_s`` so that a stalled frame does not jump far), or a fixed ``frame_ms`` per frame when
``clock`` is None. Tests call :meth:`PlaybackController.step_frame` with an explicit ``dt`` and
never wait on real time.

The theatre's cursor (:class:`gui.theatre.TheatreSession`) and a feed that appends points can both
be driven by it: ``advance(seconds)`` moves a cursor by ``seconds``, or turns them into a number of
points with a carry.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from core.errors import InvalidInputError


class PlaybackController(QObject):
    """Play / pause state, speed (simulated seconds per real second) and the frame timer.

    Signals
    -------
    playingChanged(bool) : playback started or stopped.
    speedChanged(float) : :meth:`set_speed` took a new speed.
    finished : ``advance`` said there is nothing left to play (playback has paused).
    """

    playingChanged = Signal(bool)
    speedChanged = Signal(float)
    finished = Signal()

    def __init__(self, advance: Callable[[float], bool], *, speed: float = 1.0, frame_ms: int = 33,
                 clock: Callable[[], float] | None = time.perf_counter, max_frame_s: float = 0.25,
                 can_play: Callable[[], bool] = lambda: True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._advance = advance
        self._can_play = can_play
        self._clock = clock
        self._max_frame_s = max_frame_s
        self._speed = self._checked(speed)
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(frame_ms)
        self._timer.timeout.connect(self._on_timer)

    @staticmethod
    def _checked(speed: float) -> float:
        if not (math.isfinite(speed) and speed > 0):
            raise InvalidInputError("speed", f"must be > 0 simulated seconds per second, got {speed!r}")
        return float(speed)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def frame_s(self) -> float:
        """The timer's interval in seconds (the frame length when there is no clock)."""
        return self._timer.interval() / 1000.0

    def set_speed(self, speed: float) -> None:
        self._speed = self._checked(speed)
        self.speedChanged.emit(self._speed)

    def play(self) -> None:
        """Start the frame timer (nothing happens if already playing or ``can_play()`` is False)."""
        if self._timer.isActive() or not self._can_play():
            return
        self._last = self._clock() if self._clock is not None else 0.0
        self._timer.start()
        self.playingChanged.emit(True)

    def pause(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.playingChanged.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def step_frame(self, dt_s: float) -> bool:
        """Advance by ``speed x dt_s`` simulated seconds; True (paused, ``finished`` emitted) when
        the callback says the end is reached."""
        done = bool(self._advance(self._speed * dt_s))
        if done:
            self.pause()
            self.finished.emit()
        return done

    def _on_timer(self) -> None:
        if self._clock is None:
            dt = self.frame_s
        else:
            now = self._clock()
            dt = min(max(now - self._last, 0.0), self._max_frame_s)
            self._last = now
        self.step_frame(dt)

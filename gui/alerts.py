"""Alerts during playback: a position's margin ratio or distance to liquidation crossing a threshold.

:class:`AlertWatcher` looks at every new quote (``session.resultsChanged``) made as the live feed's
time moves on: for each position still open it compares the engine's margin
ratio and distance to liquidation before and after (:func:`core.alerts.crossings`), writes each
crossing to the session's event log and emits :attr:`AlertWatcher.alerted` with its sentence (the
window shows it as a notification). A reset of the feed, an edit or another selection re-arms
the thresholds without a word. The thresholds are settings (gui/settings.py).
"""
from __future__ import annotations

import math
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from core.alerts import crossings
from core.quote import AccountQuote
from gui.live_feed import LiveFeed


class AlertSource(Protocol):
    """What the watcher reads of its session (gui.session.Session)."""

    quote: AccountQuote | None
    live: LiveFeed
    resultsChanged: Any  # Signal(): the quote was recomputed

    def log(self, kind: str, detail: str) -> None: ...


class AlertWatcher(QObject):
    alerted = Signal(str)

    def __init__(self, session: AlertSource, *, ratio_levels: tuple[float, ...] = (0.5, 0.8),
                 distance_levels: tuple[float, ...] = (0.05,), enabled: bool = True,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.ratio_levels = ratio_levels
        self.distance_levels = distance_levels
        self.enabled = enabled
        self._last: dict[tuple[int, str, str], tuple[float, float]] = {}
        self._t = -math.inf
        session.resultsChanged.connect(self._on_results)
        self.rearm()

    def configure(self, *, ratio_levels: tuple[float, ...], distance_levels: tuple[float, ...], enabled: bool) -> None:
        self.ratio_levels, self.distance_levels, self.enabled = ratio_levels, distance_levels, enabled
        self.rearm()

    def _state(self) -> dict[tuple[int, str, str], tuple[float, float]]:
        q = self.session.quote
        if q is None:
            return {}
        live = self.session.live
        return {(i, pq.position.symbol, pq.position.side.value): (pq.margin_ratio, pq.distance_to_liquidation)
                for i, pq in enumerate(q.positions) if not live.is_closed(i)}

    def rearm(self) -> None:
        """Take the positions as they are now: only later crossings alert."""
        self._last = self._state()
        self._t = self.session.live.feed.last_t

    def _on_results(self) -> None:
        t = self.session.live.feed.last_t
        if t <= self._t:  # an edit, a reset, a new source: nothing was crossed, start again from here
            self.rearm()
            return
        self._t = t
        now = self._state()
        if self.enabled:
            for key, (ratio, distance) in now.items():
                before = self._last.get(key)
                if before is None:
                    continue
                i, symbol, side = key
                for c in crossings(before_ratio=before[0], after_ratio=ratio, before_distance=before[1],
                                   after_distance=distance, ratio_levels=self.ratio_levels,
                                   distance_levels=self.distance_levels):
                    text = c.describe(f"#{i + 1} {side} {symbol}")
                    self.session.log("alert", text)
                    self.alerted.emit(text)
        self._last = now

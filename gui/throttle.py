"""Collapse bursts of updates into one: the feed moves the mark sixty times a second, and a widget
that recomputes a table or a grid on every move would spend the frame budget on work nobody sees.

:class:`Throttle` runs its callback once, :attr:`interval_ms` after the first :meth:`schedule` of a
burst; further calls within the interval change nothing (a throttle, not a debounce: a steady
stream still refreshes every interval). Used by the Compare tab and the stress map.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class Throttle(QObject):
    def __init__(self, callback: Callable[[], None], interval_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = int(interval_ms)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.interval_ms)
        self._callback = callback
        self._timer.timeout.connect(callback)

    def schedule(self) -> None:
        """Run the callback within :attr:`interval_ms`; repeated calls before then give one run."""
        if not self._timer.isActive():
            self._timer.start()

    def cancel(self) -> None:
        """Forget a scheduled run (the caller is refreshing now)."""
        self._timer.stop()

    def flush(self) -> None:
        """Run a scheduled callback now (tests step it instead of waiting on the clock)."""
        if self._timer.isActive():
            self._timer.stop()
            self._callback()

    @property
    def pending(self) -> bool:
        return self._timer.isActive()

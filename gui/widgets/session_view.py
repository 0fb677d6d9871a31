"""A view of the selected position that recomputes at most every few hundred milliseconds.

The Compare, Payoff and Stress map tabs each recompute something larger than a label (a table of
profiles, a curve of hundreds of exits, a grid of cells) from the session's quote. The feed moves the
mark sixty times a second, so each subscribes to the session's signals through a
:class:`gui.throttle.Throttle`: :class:`QtSessionView` is that wiring, once.
"""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from gui.session import Session
from gui.throttle import Throttle


class QtSessionView(QWidget):
    """Holds the session and a throttle; :meth:`follow_session` subscribes :meth:`schedule` to it.

    Subclasses implement :meth:`refresh` (which should start with ``self.throttle.cancel()``) and
    call :meth:`follow_session` at the end of their ``__init__``, once their widgets exist.
    """

    def __init__(self, session: Session, interval_ms: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._key: object = None  # what the view was last computed for (subclasses compare it)
        self.throttle = Throttle(self.refresh, interval_ms, self)

    def follow_session(self) -> None:
        """Refresh soon after every edit, selection and new mark."""
        s = self.session
        s.scenarioChanged.connect(self.schedule)
        s.selectionChanged.connect(lambda _i: self.schedule())
        s.resultsChanged.connect(self.schedule)

    def schedule(self) -> None:
        """Refresh soon; bursts within the interval give one refresh (:class:`gui.throttle.Throttle`)."""
        self.throttle.schedule()

    def refresh(self) -> None:
        raise NotImplementedError

    @staticmethod
    def heading_label(name: str) -> QLabel:
        """The wrapped line over the view that says what it shows."""
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        return label

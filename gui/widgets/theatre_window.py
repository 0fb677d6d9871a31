"""The theatre in its own top-level window, where its two charts have room.

Docked under the main window the theatre had a few dozen pixels of height per chart; here it has
the screen. The window opens at :data:`PREFERRED` (1400 x 860) or, on a smaller screen, at the
screen's available size, and its layout stays readable down to 1024 x 700 (nothing in it asks for
more). It belongs to the main window: it closes when the main window does and never keeps the
application running by itself.
"""
from __future__ import annotations

from typing import Final

from PySide6.QtCore import QSize
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QMainWindow, QWidget

from gui.theatre import TheatreSession
from gui.widgets.theatre_view import QtTheatreView

PREFERRED: Final = QSize(1400, 860)
TITLE: Final = "Liquidation theatre"


class QtTheatreWindow(QMainWindow):
    """A :class:`QtTheatreView` of ``session`` as a window of its own."""

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("theatreWindow")
        self.session = session
        self.view = QtTheatreView(session)
        self.setCentralWidget(self.view)
        self.setWindowTitle(TITLE)
        session.scenarioChanged.connect(self._on_scenario)
        self.resize(self.fitting_size())

    def fitting_size(self) -> QSize:
        """:data:`PREFERRED`, shrunk to the available area of the screen it will open on."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return PREFERRED
        avail = screen.availableGeometry().size()
        return QSize(min(PREFERRED.width(), avail.width()), min(PREFERRED.height(), avail.height()))

    def present(self) -> None:
        """Show the window in front (it keeps its size and place once shown)."""
        self.show()
        self.raise_()
        self.activateWindow()

    def _on_scenario(self) -> None:
        sc = self.session.scenario
        self.setWindowTitle(f"{sc.name} — {TITLE}" if sc is not None and sc.name else TITLE)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.session.pause()  # a hidden theatre does not play on
        super().closeEvent(event)

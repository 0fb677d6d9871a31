"""The scenario theatre: the whole widget, composed of the chart, the playback bar and the panels.

Construct it with a :class:`gui.theatre.TheatreSession`; open a file with
``session.open_file(path)``. Layout: the story and playback bar on top, the chart beside the event
log, and below them tabs for the insurance fund, ledger, ADL queue, isolated-versus-cross view,
scripted actions and risk (odds and the Monte Carlo fan).
"""
from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from gui.theatre import SPEEDS, TheatreSession
from gui.widgets.theatre_actions import QtActionsEditor
from gui.widgets.theatre_chart import QtTheatreChart
from gui.widgets.theatre_panels import (
    QtAdlPanel,
    QtEventLog,
    QtFundPanel,
    QtLedgerPanel,
    QtModeCompare,
)
from gui.widgets.theatre_risk import QtRiskPanel

SLIDER_STEPS: Final = 10_000


def _speed_text(s: float) -> str:
    if s < 60:
        return f"{s:g} s/s"
    if s < 3600:
        return f"{s / 60:g} min/s"
    if s < 86_400:
        return f"{s / 3600:g} h/s"
    return f"{s / 86_400:g} d/s"


class QtTheatreView(QWidget):
    """Everything the theatre shows, following one :class:`TheatreSession`."""

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.title = QLabel("Open a scenario (Help > Lessons) to play it here.")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)  # a long name wraps instead of widening the window
        self.story = QLabel()
        self.story.setWordWrap(True)
        self.story.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        st = self.style()
        self.play_button = QPushButton()
        self.play_button.setToolTip("Play or pause the scenario.")
        self.play_button.clicked.connect(session.toggle_play)
        self.prev_button = QPushButton()
        self.prev_button.setIcon(st.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward))
        self.prev_button.setToolTip("Jump to the previous event.")
        self.prev_button.clicked.connect(lambda: self._step(-1))
        self.next_button = QPushButton()
        self.next_button.setIcon(st.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward))
        self.next_button.setToolTip("Jump to the next event.")
        self.next_button.clicked.connect(lambda: self._step(+1))
        self.speed_combo = QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(_speed_text(s), s)
        self.speed_combo.setToolTip("Playback speed: simulated seconds per real second.")
        self.speed_combo.currentIndexChanged.connect(
            lambda i: session.set_speed(float(self.speed_combo.itemData(i))))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setToolTip("Move through the scenario.")
        self.slider.valueChanged.connect(self._slider_moved)
        self.show_all_button = QPushButton("Whole path")
        self.show_all_button.setToolTip("Zoom the chart out to the whole path.")
        self.readout = QLabel()
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setWordWrap(True)  # many positions wrap instead of widening the window
        self.status = QLabel()
        self.status.setStyleSheet("color: #b42318;")
        self.status.setWordWrap(True)

        self.chart = QtTheatreChart(session)
        self.show_all_button.clicked.connect(self.chart.show_all)
        self.events = QtEventLog(session)
        self.events.eventClicked.connect(lambda _row: self.chart.center_on(session.cursor))
        self.fund = QtFundPanel(session)
        self.ledger = QtLedgerPanel(session)
        self.adl = QtAdlPanel(session)
        self.compare = QtModeCompare(session)
        self.actions_editor = QtActionsEditor(session)
        self.risk = QtRiskPanel(session)

        bar = QHBoxLayout()
        for w in (self.prev_button, self.play_button, self.next_button, self.speed_combo):
            bar.addWidget(w)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.show_all_button)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.chart)
        top.addWidget(self.events)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.fund, "Insurance fund")
        self.tabs.addTab(self.ledger, "Ledger")
        self.tabs.addTab(self.adl, "ADL queue")
        self.tabs.addTab(self.compare, "Isolated vs cross")
        self.tabs.addTab(self.actions_editor, "Scripted actions")
        self.tabs.addTab(self.risk, "Risk and Monte Carlo")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.story)
        lay.addLayout(bar)
        lay.addWidget(self.readout)
        lay.addWidget(self.status)
        lay.addWidget(split, 1)

        session.scenarioChanged.connect(self._on_scenario)
        session.resultChanged.connect(self._on_result)
        session.cursorChanged.connect(self._on_cursor)
        session.playingChanged.connect(self._on_playing)
        session.speedChanged.connect(self._on_speed)
        session.runFailed.connect(lambda msg: self._set_status(f"Could not simulate: {msg}"))
        session.busyChanged.connect(lambda busy: self._set_status("Simulating..." if busy else ""))
        self._set_status("")
        top.setSizes([620, 380])
        split.setSizes([560, 340])
        self._on_playing(session.playing)
        self._on_speed(session.speed)
        self._on_scenario()

    # -- slots ----------------------------------------------------------------------------------------

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _on_scenario(self) -> None:
        sc = self.session.scenario
        if sc is None:
            return
        name = sc.name or (self.session.file_path.name if self.session.file_path else "Scenario")
        self.title.setText(f"{name}  ({sc.exchange})")
        self.story.setText(sc.description)
        self.story.setVisible(bool(sc.description))

    def _on_result(self) -> None:
        self._set_status("")
        if self.session.timeline is not None and self.session.cursor <= self.session.timeline.t0:
            self.session.set_speed(self.session.suggested_speed())
        self._on_cursor(self.session.cursor)

    def _on_speed(self, s: float) -> None:
        i = self.speed_combo.findData(s)
        self.speed_combo.blockSignals(True)
        if i < 0:
            self.speed_combo.addItem(_speed_text(s), s)
            i = self.speed_combo.count() - 1
        self.speed_combo.setCurrentIndex(i)
        self.speed_combo.blockSignals(False)

    def _on_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Pause" if playing else "Play")

    def _slider_moved(self, v: int) -> None:
        tl = self.session.timeline  # programmatic moves block signals: this is the user's
        if tl is not None:
            self.session.seek(tl.t0 + (tl.t_end - tl.t0) * v / SLIDER_STEPS)

    def _step(self, direction: int) -> None:
        self.session.step_event(direction)
        self.chart.center_on(self.session.cursor)

    def _on_cursor(self, t: float) -> None:
        tl = self.session.timeline
        if tl is None:
            self.readout.setText("")
            return
        span = max(tl.t_end - tl.t0, 1e-9)
        self.slider.blockSignals(True)
        self.slider.setValue(round(SLIDER_STEPS * (t - tl.t0) / span))
        self.slider.blockSignals(False)
        tick = tl.result.tick_size
        parts = [f"t = <b>{t:g}</b> / {tl.t_end:g} s", f"mark <b>{fmt.price(tl.mark_at(t), tick)}</b>",
                 f"last {fmt.price(tl.last_at(t), tick)}"]
        for tr in tl.tracks:
            k = tr.k_at(t)
            q = tr.qty[k]
            if not q > 0:
                parts.append(f"{tr.label}: closed")
                continue
            parts.append(f"{tr.label} {fmt.num(round(float(q), 9))}: LP "
                         f"<span style='color:#e5484d'>{fmt.price(float(tr.liquidation[k]), tick)}</span>, BP "
                         f"{fmt.price(float(tr.bankruptcy[k]), tick)}")
        self.readout.setText(" · ".join(parts))

"""Risk at the cursor: the chance of liquidation within a chosen horizon, and a Monte Carlo fan.

The odds are :func:`core.risk.liquidation_probability` (closed form, GBM without drift) for every
open position at the cursor's mark. The fan draws :func:`core.prices.gbm_paths` from that mark on the
session's fan worker: a progress bar follows it, Cancel stops it between chunks, and the result is
drawn as 5-95 % and 25-75 % bands, the median and a few sample paths, with the liquidation price;
the share of paths that touched it (Brownian-bridge corrected) is shown next to the closed form.
"""
from __future__ import annotations

import math
from typing import Final

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from core.errors import InvalidInputError
from core.timeline import FanResult
from gui.palette import follow_palette, style_plot
from gui.theatre import TheatreSession

UNITS: Final = (("seconds", 1.0), ("minutes", 60.0), ("hours", 3600.0), ("days", 86_400.0))


class QtRiskPanel(QWidget):
    """Odds of liquidation within a horizon at the cursor, and a cancellable Monte Carlo fan."""

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.sigma = QDoubleSpinBox()
        self.sigma.setRange(1.0, 2000.0)
        self.sigma.setDecimals(0)
        self.sigma.setSuffix(" %")
        self.sigma.setToolTip("Annual volatility of the mark (GBM, no drift).")
        self.horizon = QDoubleSpinBox()
        self.horizon.setRange(0.001, 100_000.0)
        self.horizon.setDecimals(3)
        self.horizon.setValue(1.0)
        self.unit = QComboBox()
        for name, seconds in UNITS:
            self.unit.addItem(name, seconds)
        self.unit.setCurrentIndex(3)
        self.paths = QSpinBox()
        self.paths.setRange(100, 1_000_000)
        self.paths.setSingleStep(1000)
        self.paths.setValue(20_000)
        self.paths.setGroupSeparatorShown(True)
        self.steps = QSpinBox()
        self.steps.setRange(10, 5_000)
        self.steps.setValue(200)
        self.start_button = QPushButton("Run fan")
        self.start_button.setToolTip("Draw Monte Carlo paths of the mark from the cursor (in the background).")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(session.cancel_fan)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.odds_label = QLabel()
        self.odds_label.setWordWrap(True)
        self.odds_label.setTextFormat(Qt.TextFormat.RichText)
        self.fan_label = QLabel("")
        self.fan_label.setWordWrap(True)

        self.plot = pg.PlotWidget()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("left", "mark")
        follow_palette(self.plot, lambda: style_plot(self.plot))
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.outer_hi = self.plot.plot(pen=pg.mkPen(None))
        self.outer_lo = self.plot.plot(pen=pg.mkPen(None))
        self.inner_hi = self.plot.plot(pen=pg.mkPen(None))
        self.inner_lo = self.plot.plot(pen=pg.mkPen(None))
        self.plot.addItem(pg.FillBetweenItem(self.outer_lo, self.outer_hi, brush=pg.mkBrush(47, 182, 124, 45)))
        self.plot.addItem(pg.FillBetweenItem(self.inner_lo, self.inner_hi, brush=pg.mkBrush(47, 182, 124, 90)))
        self.median = self.plot.plot(pen=pg.mkPen("#2fb67c", width=2))
        self.samples: list[pg.PlotDataItem] = []
        self.lp_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#e5484d", width=2),
                                       label="liquidation {value:,.2f}",
                                       labelOpts={"position": 0.1, "color": "#e5484d", "anchors": [(0, 1), (0, 1)]})
        self.lp_line.setVisible(False)
        self.plot.addItem(self.lp_line, ignoreBounds=True)

        grid = QGridLayout()
        grid.addWidget(QLabel("Volatility"), 0, 0)
        grid.addWidget(self.sigma, 0, 1)
        grid.addWidget(QLabel("Horizon"), 0, 2)
        grid.addWidget(self.horizon, 0, 3)
        grid.addWidget(self.unit, 0, 4)
        grid.addWidget(QLabel("Paths"), 1, 0)
        grid.addWidget(self.paths, 1, 1)
        grid.addWidget(QLabel("Steps"), 1, 2)
        grid.addWidget(self.steps, 1, 3)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        left = QVBoxLayout()
        left.addLayout(grid)
        left.addLayout(buttons)
        left.addWidget(self.odds_label)
        left.addWidget(self.fan_label)
        left.addStretch(1)
        side = QWidget()
        side.setLayout(left)
        scroll = QScrollArea()  # a short tab scrolls instead of squeezing the spin boxes
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setMinimumWidth(400)
        scroll.setMaximumWidth(460)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll)
        lay.addWidget(self.plot, 1)

        for w in (self.sigma, self.horizon):
            w.valueChanged.connect(self.update_odds)
        self.unit.currentIndexChanged.connect(self.update_odds)
        session.cursorChanged.connect(self.update_odds)
        session.resultChanged.connect(self.update_odds)
        session.scenarioChanged.connect(self._on_scenario)
        session.fanProgress.connect(self.progress.setValue)
        session.fanFinished.connect(self._on_fan)
        session.fanCancelled.connect(self._on_cancelled)
        session.fanFailed.connect(self._on_failed)
        self._on_scenario()

    def horizon_seconds(self) -> float:
        return float(self.horizon.value()) * float(self.unit.currentData())

    def _on_scenario(self) -> None:
        self.sigma.blockSignals(True)
        self.sigma.setValue(100.0 * self.session.default_sigma())
        self.sigma.blockSignals(False)
        self.update_odds()

    def update_odds(self, *_args: object) -> None:
        tl = self.session.timeline
        if tl is None:
            self.odds_label.setText("")
            return
        t = self.session.cursor
        unit = self.unit.currentText()
        hz = f"{self.horizon.value():g} {unit[:-1] if self.horizon.value() == 1 else unit}"
        sigma = self.sigma.value() / 100.0
        odds = tl.odds_at(t, sigma=sigma, horizon_s=self.horizon_seconds())
        tick = tl.result.tick_size
        if not odds:
            self.odds_label.setText(f"At t = {t:g} s no position is open on {tl.result.symbol}.")
            return
        lines = [f"Chance of liquidation within {hz} at {sigma:.0%} volatility (closed form):"]
        for o in odds:
            if math.isfinite(o.liquidation_price):
                lines.append(f"<b>{o.label}</b>: liquidation {fmt.price(o.liquidation_price, tick)} "
                             f"({fmt.pct(o.distance)} from the mark {fmt.price(o.mark, tick)}): "
                             f"<b>{o.probability:.1%}</b>")
            else:
                lines.append(f"<b>{o.label}</b>: no liquidation price (fully backed): 0 %")
        self.odds_label.setText("<br>".join(lines))

    def start(self) -> None:
        try:
            self.session.start_fan(sigma=self.sigma.value() / 100.0, horizon_s=self.horizon_seconds(),
                                   n_paths=int(self.paths.value()), n_steps=int(self.steps.value()))
        except InvalidInputError as exc:
            self.fan_label.setText(f"Not started: {exc}")
            return
        self.progress.setValue(0)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.fan_label.setText("Drawing paths in the background...")

    def _done(self) -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_cancelled(self) -> None:
        if not self.session.fan_running:
            self._done()
            self.progress.setValue(0)
            self.fan_label.setText("Cancelled.")

    def _on_failed(self, message: str) -> None:
        self._done()
        self.fan_label.setText(f"The fan failed: {message}")

    def _on_fan(self, fan: FanResult) -> None:
        self._done()
        self.progress.setValue(100)
        unit_s = float(self.unit.currentData())
        x = fan.t / unit_s
        q = fan.quantiles
        self.outer_lo.setData(x, q[0])
        self.outer_hi.setData(x, q[4])
        self.inner_lo.setData(x, q[1])
        self.inner_hi.setData(x, q[3])
        self.median.setData(x, q[2])
        for c in self.samples:
            self.plot.removeItem(c)
        self.samples = [self.plot.plot(x, row, pen=pg.mkPen(120, 120, 120, 70)) for row in fan.samples[:20]]
        self.plot.setLabel("bottom", f"{self.unit.currentText()} after t = {fan.t_start:g} s")
        if math.isfinite(fan.liquidation_price):
            self.lp_line.setVisible(True)  # visible first: a hidden line's label does not follow its value
            self.lp_line.setValue(fan.liquidation_price)
        else:
            self.lp_line.setVisible(False)
        lo = float(np.min(q[0]))
        hi = float(np.max(q[4]))
        if math.isfinite(fan.liquidation_price):
            lo, hi = min(lo, fan.liquidation_price), max(hi, fan.liquidation_price)
        self.plot.setXRange(0, float(x[-1]), padding=0.01)
        self.plot.setYRange(lo, hi, padding=0.05)
        self.fan_label.setText(
            f"{fan.n_paths:,} paths in {fan.seconds:.2f} s ({fan.paths_per_second:,.0f} paths/s) from the mark "
            f"{fan.mark:,.2f} for {fan.label}: {fan.touch_fraction:.1%} touched the liquidation price "
            f"(closed form {fan.closed_form:.1%}).")

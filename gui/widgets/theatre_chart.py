"""The theatre's main chart: mark and last price, each position's liquidation and bankruptcy lines as
step series, a marker for every event, each liquidation fill against the bankruptcy price shaded,
the playback cursor (drag it to seek), and under the plot a caption that says what the ledger
booked at the last liquidation step before the cursor.

Every number comes from :attr:`gui.theatre.TheatreSession.timeline`; the words next to a
liquidation are :meth:`core.timeline.LiquidationStep.lines`, read from the simulator's events and
ledger (the fund's inflow or payout, the ADL closes, the backstop), never worked out here. The
caption sits outside the plot, one step at a time, so no label covers another or a price line.
Items that follow playback (the cursor, the caption) are created once and updated; items that
depend on the result are rebuilt when a new result arrives (a handful per scenario). The price
curves use clip-to-view and peak downsampling, so a million-tick path stays smooth (STYLE.md §14).
"""
from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.simulate import EventKind
from core.timeline import LiquidationStep, Timeline, event_text
from gui.palette import follow_palette, style_plot
from gui.theatre import TheatreSession

MARK_COLOR: Final = "#2fb67c"
LAST_COLOR: Final = "#9aa0a6"
LIQ_COLORS: Final = ("#e5484d", "#f76b15", "#d6409f", "#8e4ec6")
BANKRUPT_COLOR: Final = "#8e1b1f"
SURPLUS_COLOR: Final = (47, 182, 124, 110)  # the fund received a surplus
GAP_COLOR: Final = (229, 72, 77, 120)  # the fund paid a gap, or the rest was auto-deleveraged
KEPT_COLOR: Final = (91, 141, 239, 90)  # nothing to the fund: the margin stayed with the position
CURSOR_COLOR: Final = "#5b8def"

#: Marker per event kind: (symbol, colour).
EVENT_STYLE: Final[dict[EventKind, tuple[str, str]]] = {
    EventKind.LIQUIDATION_TRIGGERED: ("x", "#e5484d"),
    EventKind.ORDERS_CANCELLED: ("s", "#9aa0a6"),
    EventKind.PARTIAL_LIQUIDATION: ("t", "#f76b15"),
    EventKind.LIQUIDATION_FILL: ("o", "#e5484d"),
    EventKind.INSURANCE_FUND_INFLOW: ("t1", "#2fb67c"),
    EventKind.INSURANCE_FUND_PAYOUT: ("t", "#8e1b1f"),
    EventKind.BACKSTOP: ("s", "#8e4ec6"),
    EventKind.ADL: ("star", "#f5a524"),
    EventKind.STOP_TRIGGERED: ("d", "#5b8def"),
    EventKind.MARGIN_ADDED: ("t1", "#5b8def"),
    EventKind.LEVERAGE_CHANGED: ("p", "#5b8def"),
    EventKind.POSITION_REDUCED: ("h", "#5b8def"),
}


def legend_below(plot: pg.PlotWidget, *, columns: int) -> pg.LegendItem:
    """A legend in a row under the time axis, outside the data, so it never covers a line; items
    added with a ``name`` get their entry in it. A legend wider than the plot is clipped rather
    than pushing the axis out of the widget."""
    legend = pg.LegendItem(offset=None, colCount=columns, labelTextSize="8pt", frame=False)
    legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    plot.plotItem.layout.addItem(legend, 4, 1)
    plot.plotItem.legend = legend
    return legend


class QtTheatreChart(QWidget):
    """Prices, lines and events of the played scenario, with a draggable cursor."""

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.plot = pg.PlotWidget()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.setLabel("left", "price")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.legend = legend_below(self.plot, columns=4)
        follow_palette(self.plot, lambda: style_plot(self.plot))
        self.mark_curve = self.plot.plot(pen=pg.mkPen(MARK_COLOR, width=2), name="mark")
        self.last_curve = self.plot.plot(pen=pg.mkPen(LAST_COLOR, width=1, style=Qt.PenStyle.DashLine),
                                         name="last")
        for c in (self.mark_curve, self.last_curve):
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
        self.events_scatter = pg.ScatterPlotItem(size=11, hoverable=True, tip=self._tip,
                                                 hoverPen=pg.mkPen("k", width=2))
        self.events_scatter.setZValue(20)
        self.events_scatter.sigClicked.connect(self._clicked)
        self.plot.addItem(self.events_scatter)
        self.cursor_line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(CURSOR_COLOR, width=2),
                                           hoverPen=pg.mkPen(CURSOR_COLOR, width=4))
        self.cursor_line.setZValue(30)
        self.cursor_line.setToolTip("The playback cursor: drag it to move through the scenario.")
        self.cursor_line.sigDragged.connect(lambda line: session.seek(line.value()))
        self.plot.addItem(self.cursor_line, ignoreBounds=True)
        self.line_curves: list[tuple[pg.PlotDataItem, pg.PlotDataItem]] = []
        self.shades: list[Any] = []  # fill-vs-bankruptcy shading of the current result
        self._event_pos: list[tuple[float, float]] = []
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setToolTip("What the ledger booked at the last liquidation before the cursor.")
        # two lines reserved, so the plot does not jump as the caption changes during playback
        self.caption.setMinimumHeight(2 * self.caption.fontMetrics().lineSpacing() + 2)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.caption)
        session.resultChanged.connect(self._on_result)
        session.cursorChanged.connect(self._on_cursor)
        self._on_result()

    # -- result-dependent items ----------------------------------------------------------------

    def _clear_result_items(self) -> None:
        for lp, bp in self.line_curves:
            for c in (lp, bp):
                self.legend.removeItem(c)
                self.plot.removeItem(c)
        self.line_curves.clear()
        for it in self.shades:
            self.plot.removeItem(it)
        self.shades.clear()

    def _on_result(self) -> None:
        self._clear_result_items()
        tl = self.session.timeline
        if tl is None:
            self.mark_curve.setData([], [])
            self.last_curve.setData([], [])
            self.events_scatter.setData([])
            return
        path = tl.result.path
        self.mark_curve.setData(path.t, path.mark)
        self.last_curve.setData(path.t, path.last)
        on_path = [tr for tr in tl.tracks if tr.on_path]
        self.legend.setColumnCount(4 if len(on_path) <= 1 else 3)  # mark, last, then LP and BP per position
        for k, tr in enumerate(on_path):
            color = LIQ_COLORS[k % len(LIQ_COLORS)]
            x, y = tr.step_xy(tr.liquidation, tl.t_end)
            lp = self.plot.plot(x, y, pen=pg.mkPen(color, width=2), connect="finite",
                                name=f"LP {tr.label}")
            x, y = tr.step_xy(tr.bankruptcy, tl.t_end)
            bp = self.plot.plot(x, y, pen=pg.mkPen(BANKRUPT_COLOR if len(on_path) == 1 else color, width=1.5,
                                                   style=Qt.PenStyle.DashLine),
                                connect="finite", name=f"BP {tr.label}")
            self.line_curves.append((lp, bp))
        self._draw_steps(tl)
        spots = []
        self._event_pos = []
        tick = tl.result.tick_size
        for i, e in enumerate(tl.result.events):
            y_ev = e.price if math.isfinite(e.price) and e.kind is not EventKind.LEVERAGE_CHANGED else e.mark
            sym, color = EVENT_STYLE.get(e.kind, ("o", "#444"))
            spots.append({"pos": (e.t, y_ev), "symbol": sym, "brush": pg.mkBrush(color),
                          "pen": pg.mkPen("k", width=0.5), "data": (i, f"t = {e.t:g} s  {e.position}\n"
                                                                       f"{event_text(e, tick, tl.settle_asset)}")})
            self._event_pos.append((e.t, y_ev))
        self.events_scatter.setData(spots)
        self.show_all()
        self._on_cursor(self.session.cursor)

    def _draw_steps(self, tl: Timeline) -> None:
        """Shade the band between each book fill of a liquidation and its bankruptcy price, coloured
        by what the step booked: green when the fund received a surplus, red when it paid a gap or
        the rest was auto-deleveraged, blue when nothing went to the fund. Hovering a band shows the
        step's lines."""
        w = max(tl.t_end - tl.t0, 1e-9) * 0.025
        tick = tl.result.tick_size
        for step in tl.steps:
            if step.fund_inflow > 0:
                color = SURPLUS_COLOR
            elif step.fund_payout > 0 or step.adl:
                color = GAP_COLOR
            else:
                color = KEPT_COLOR
            tip = "\n".join(step.lines(tick))
            for f in step.fills:
                if not (math.isfinite(f.price) and math.isfinite(f.bankruptcy_price)) or f.qty <= 0:
                    continue
                x = np.array([step.t, step.t + w])
                a = pg.PlotDataItem(x, [f.price] * 2, pen=pg.mkPen(None))
                b = pg.PlotDataItem(x, [f.bankruptcy_price] * 2, pen=pg.mkPen(None))
                fill = pg.FillBetweenItem(a, b, brush=pg.mkBrush(*color))
                fill.setZValue(10)
                fill.setToolTip(tip)
                for it in (a, b, fill):
                    self.plot.addItem(it)
                    self.shades.append(it)

    def step_text(self, step: LiquidationStep | None) -> str:
        """The caption for ``step`` (None: before the first liquidation)."""
        tl = self.session.timeline
        if tl is None or not tl.steps:
            return ""
        if step is None:
            return f"No liquidation yet: the first is at t = {tl.steps[0].t:g} s."
        lines = step.lines(tl.result.tick_size)
        return f"{lines[0]}: " + "; ".join(lines[1:]) + "."

    # -- cursor and view ---------------------------------------------------------------------------

    def _on_cursor(self, t: float) -> None:
        self.cursor_line.blockSignals(True)
        self.cursor_line.setValue(t)
        self.cursor_line.blockSignals(False)
        tl = self.session.timeline
        text = "" if tl is None else self.step_text(tl.step_at(t))
        if text != self.caption.text():
            self.caption.setText(text)
        self.caption.setVisible(bool(text))

    def show_all(self) -> None:
        tl = self.session.timeline
        if tl is None:
            return
        self.plot.enableAutoRange(axis="y")
        self.plot.setXRange(tl.t0, tl.t_end, padding=0.02)

    def center_on(self, t: float) -> None:
        """Move the visible time window so that ``t`` is in its middle (at most half the path wide)."""
        tl = self.session.timeline
        if tl is None:
            return
        span = max(tl.t_end - tl.t0, 1e-9)
        (x0, x1), _ = self.plot.viewRange()
        w = min(x1 - x0, span / 2)
        self.plot.setXRange(t - w / 2, t + w / 2, padding=0)

    def view_center(self) -> float:
        (x0, x1), _ = self.plot.viewRange()
        return 0.5 * (x0 + x1)

    def event_position(self, index: int) -> tuple[float, float]:
        """Where the marker of event ``index`` is drawn (t, price)."""
        return self._event_pos[index]

    def _tip(self, x: float, y: float, data: Any) -> str:
        return data[1] if isinstance(data, tuple) else ""

    def _clicked(self, _item: Any, points: Any, *_args: Any) -> None:
        if len(points):
            i = points[0].data()[0]
            self.session.seek_event(i)
            self.center_on(self.session.cursor)

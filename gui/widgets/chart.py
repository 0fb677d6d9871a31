"""The live chart: the streamed mark against the position's entry, liquidation and bankruptcy prices.

pyqtgraph recipe (STYLE.md §14): every item is created once and updated with ``setData`` /
``setValue``; the price levels are labelled horizontal ``InfiniteLine`` items added with
``ignoreBounds=True`` so they never stretch the y range; the what-if ghost liquidation line is
dashed; the crosshair follows ``sigMouseMoved`` mapped into the view.

The mark curve (:class:`MarkCurve`) is handed only what the view's pixels need: the feed's min/max
envelope for the visible time range (:meth:`gui.feed.Feed.envelope`, at most ~4 points per pixel
column, every column's lowest and highest mark kept), or the raw points once the user zooms in far
enough. pyqtgraph's own clip-to-view and downsampling are not used: they, and its bounds, reduced
over the whole history on every frame. A frame therefore costs the same at 100,000 points of history
as at 10,000,000.
"""
from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from core.errors import InvalidInputError
from gui.feed import Feed
from gui.live_feed import SPEEDS, LiquidationEvent, feed_clock
from gui.palette import colors, follow_palette, style_plot
from gui.session import Session
from gui.widgets import tips

ENTRY_COLOR = "#5b8def"
LIQ_COLOR = "#e5484d"
BANKRUPT_COLOR = "#b8322f"  # readable on light and dark backgrounds
GHOST_COLOR = "#f5a524"
MARK_COLOR = "#2fb67c"
SL_COLOR = "#d9822b"
TP_COLOR = "#3fa7a0"


PROBE_COLOR = "#9b7ede"
_DRAG_WORDS: Final = {
    "entry": "move the entry (one undo step when released)",
    "liquidation": "see the margin, leverage or size that puts the liquidation price there (a what-if to apply)",
    "stop_loss": "move the stop-loss (one undo step when released)",
    "take_profit": "move the take-profit (one undo step when released)",
}
FOLLOW_Y_FILL: Final = 0.6  # following, the price range is refitted once what it must show fills less
# The horizontal price lines: colour, label, pen style, label position along the line, tooltip.
_LEVELS: Final[dict[str, tuple[str, str, Qt.PenStyle, float, str]]] = {
    "entry": (ENTRY_COLOR, "entry", Qt.PenStyle.SolidLine, 0.02, tips.TIPS["entry"]),
    "liquidation": (LIQ_COLOR, "liquidation", Qt.PenStyle.SolidLine, 0.3, tips.TIPS["liquidation_price"]),
    "bankruptcy": (BANKRUPT_COLOR, "bankruptcy", Qt.PenStyle.DotLine, 0.3, tips.TIPS["bankruptcy_price"]),
    "stop_loss": (SL_COLOR, "stop-loss", Qt.PenStyle.DashDotLine, 0.55, tips.TIPS["stop_loss"]),
    "take_profit": (TP_COLOR, "take-profit", Qt.PenStyle.DashDotLine, 0.55, tips.TIPS["take_profit"]),
    "ghost": (GHOST_COLOR, "what-if liquidation", Qt.PenStyle.DashLine, 0.6, ""),
    "fill": (BANKRUPT_COLOR, "fill", Qt.PenStyle.DashDotLine, 0.6, ""),
    "probe": (PROBE_COLOR, "what-if mark", Qt.PenStyle.DashLine, 0.85, ""),
}
# Which side of its line a label sits on, for a long: the lines on the profit side of the position
# (entry, liquidation, take-profit) carry theirs above, those past the liquidation price
# (bankruptcy, fill) and the stop-loss below, so that two close lines (the liquidation and the
# bankruptcy price at high leverage) never stack their labels. A short mirrors it.
_LABEL_ABOVE_FOR_LONG: Final = {"entry": True, "liquidation": True, "take_profit": True, "ghost": True,
                                "probe": True, "bankruptcy": False, "fill": False, "stop_loss": False}
# The lines a person may drag (TradingView's position tool): a dragged entry, stop-loss or
# take-profit is one edit when released; a dragged liquidation line previews the change that puts
# the liquidation price there (core.lp_target), which Apply makes real.
DRAGGABLE: Final = ("entry", "liquidation", "stop_loss", "take_profit")
_ABOVE: Final = [(0, 1), (0, 1)]  # the label's bottom-left corner on the line
_BELOW: Final = [(0, 0), (0, 0)]  # its top-left corner on the line


class MarkCurve(pg.PlotCurveItem):
    """The mark-price line: draws the envelope it is given, reports the whole feed's bounds.

    pyqtgraph asks :meth:`dataBounds` when it auto-ranges ("View all", the "A" button); the answer
    comes from the feed's min/max pyramid in O(log n), so auto-ranging shows the whole history
    although only the visible envelope is ever drawn.
    """

    def __init__(self, feed: Feed, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feed = feed
        self._bounding = False

    def boundingRect(self) -> Any:
        # pyqtgraph bounds the painted item by dataBounds, which here answers for the whole history:
        # bound what is drawn instead (and spare every repaint a query of the pyramid).
        self._bounding = True
        try:
            return super().boundingRect()
        finally:
            self._bounding = False

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> tuple[Any, Any]:
        if self._bounding:
            return super().dataBounds(ax, frac, orthoRange)
        if self.feed.n == 0:
            return (None, None)
        if ax == 0:
            return (0.0, self.feed.last_t)  # feed time starts at 0
        lo, hi = orthoRange if orthoRange is not None else (-math.inf, math.inf)
        r = self.feed.mark_range(lo, hi)
        return (None, None) if r is None else r


def _speed_text(s: int) -> str:
    if s < 60:
        return f"{s} s/s"
    if s < 3600:
        return f"{s // 60} min/s"
    if s < 86_400:
        return f"{s // 3600} h/s"
    return f"{s // 86_400} d/s"


_TIME_STEPS = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400,
               2 * 86_400, 7 * 86_400, 14 * 86_400, 30 * 86_400, 90 * 86_400, 365 * 86_400)


class TimeAxis(pg.AxisItem):
    """Feed time as a clock (d hh:mm:ss), with ticks on whole minutes, hours and days."""

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        span = maxVal - minVal
        if span <= 0 or size <= 0:
            return super().tickSpacing(minVal, maxVal, size)
        wanted = span / max(size / 110.0, 1.0)  # about one labelled tick per 110 px
        major = next((s for s in _TIME_STEPS if s >= wanted), _TIME_STEPS[-1])
        smaller = [s for s in _TIME_STEPS if s < major]
        minor = smaller[-1] if smaller else major / 5
        return [(float(major), 0.0), (float(minor), 0.0)]

    def tickStrings(self, values: Any, scale: float, spacing: float) -> list[str]:
        return [feed_clock(v) if v >= 0 else "" for v in values]


class QtMarkChart(QWidget):
    """Mark price history with labelled price levels, playback controls and a crosshair read-out.

    The entry, stop-loss, take-profit and liquidation lines can be dragged (:data:`DRAGGABLE`).
    """

    #: A dragged liquidation line: (the price it stands at, "" or why no change can put it there).
    liquidationDragged = Signal(float, str)
    #: A sentence for the status bar (a drag refused, an order moved).
    message = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._dragging: str | None = None  # the line under the mouse: refreshes leave it where it is
        self.follow = True
        self._window_s = 6 * 3600.0

        # ---- controls
        self.play_button = QPushButton()
        self._marked = False  # a liquidation is marked on the chart
        self._play_state: tuple[bool, bool] | None = None
        self.play_button.setToolTip("Play or pause the mark-price feed (Space).")
        self.play_button.clicked.connect(session.live.toggle_play)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaSkipBackward))
        self.reset_button.setToolTip("Restart the feed from the scenario's mark and clear the liquidation.")
        self.reset_button.clicked.connect(session.reset_feed)
        self.speed_combo = QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(_speed_text(s), s)
        self.speed_combo.setToolTip("Playback speed: simulated time per real second.")
        self.speed_combo.currentIndexChanged.connect(lambda i: session.live.set_speed(self.speed_combo.itemData(i)))
        self.follow_box = QCheckBox("Follow")
        self.follow_box.setChecked(True)
        self.follow_box.setToolTip("Keep the latest prices in view; untick to zoom and pan freely.")
        self.follow_box.toggled.connect(self._set_follow)
        self.probe_box = QCheckBox("Probe")
        self.probe_box.setToolTip("Show a draggable what-if mark line: drag it to read the position's uPnL, "
                                  "margin ratio and whether it would be liquidated at that mark.")
        self.probe_box.toggled.connect(self._set_probe)
        self.source_label = QLabel()
        self.readout = QLabel()
        # texts that change with the feed and the mouse never size the window: they are cut at
        # the edge instead (the read-out's tooltip and the status bar say the rest)
        for label in (self.source_label, self.readout):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(0)
        self.readout.setObjectName("crosshairReadout")
        self.readout.setToolTip("Crosshair read-out: feed time and price under the mouse, and the position's "
                                "unrealised PnL and margin ratio if the mark stood there.")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.play_button, self.reset_button, QLabel("Speed"), self.speed_combo, self.follow_box,
                  self.probe_box, self.source_label):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.readout)

        # ---- plot
        self.plot = pg.PlotWidget(axisItems={"bottom": TimeAxis(orientation="bottom")})
        self.plot.setToolTip("")
        pi = self.plot.getPlotItem()
        # No grid: pyqtgraph draws it inside the axes, and it tripled the paint time of every frame.
        pi.showGrid(x=False, y=False)
        pi.setLabel("left", "price")
        pi.setLabel("bottom", "feed time")
        pi.setMenuEnabled(True)
        self.plot.setMouseTracking(True)
        # A 1 px pen: wider pens cost Qt's raster engine twice the paint time per frame.
        self.curve = MarkCurve(session.live.feed, pen=pg.mkPen(MARK_COLOR, width=1), name="mark")
        pi.addItem(self.curve)
        self._drawn: tuple[Any, ...] = ()  # what the curve shows: (feed version, x0, x1, columns)
        self.curve.setToolTip("Mark price: the exchange's fair price, which drives uPnL and liquidation.")

        # The price levels: entry, liquidation and bankruptcy at once; the others (stop-loss,
        # take-profit, what-if, fill, probe) the first time they are shown, so that a start-up and
        # every frame pay nothing for lines nobody sees (pyqtgraph moves each line's label on
        # every view change, hidden or not).
        self._lines: dict[str, pg.InfiniteLine] = {}
        self.entry_line = self._line("entry")
        self.liq_line = self._line("liquidation")
        self.bankrupt_line = self._line("bankruptcy")
        self.liq_marker = pg.ScatterPlotItem(size=16, symbol="x", pen=pg.mkPen(LIQ_COLOR, width=3),
                                             brush=pg.mkBrush(LIQ_COLOR))
        pi.addItem(self.liq_marker)
        self.liq_text = pg.TextItem("", color=LIQ_COLOR, anchor=(1, 0))  # below-left of the marker
        pi.addItem(self.liq_text, ignoreBounds=True)
        self.cross_v = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((150, 150, 150), width=1))
        self.cross_h = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen((150, 150, 150), width=1))
        for item in (self.cross_v, self.cross_h):
            item.setVisible(False)
            pi.addItem(item, ignoreBounds=True)
        vb = pi.getViewBox()
        vb.disableAutoRange()  # following, _follow_view sets both ranges; View all asks MarkCurve.dataBounds
        vb.sigRangeChangedManually.connect(lambda *_: self.follow_box.setChecked(False))
        # Zooming, panning, following and resizing all come through here: redraw for the new view.
        vb.sigXRangeChanged.connect(self._redraw_curve)
        vb.sigResized.connect(self._redraw_curve)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)

        session.live.marketChanged.connect(self.refresh_curve)
        session.resultsChanged.connect(self.refresh_levels)
        session.previewChanged.connect(self.refresh_preview)
        session.live.playingChanged.connect(self._refresh_play_button)
        session.live.liquidated.connect(self._on_liquidated)
        session.live.speedChanged.connect(self._refresh_speed)
        self._refresh_play_button(session.live.playing)
        self._refresh_speed(session.live.speed)
        follow_palette(self.plot, self.apply_palette)
        self.refresh_curve()
        self.refresh_levels()

    # ------------------------------------------------------------------ price levels

    def _line(self, name: str) -> pg.InfiniteLine:
        """The price line ``name`` of :data:`_LEVELS`, created (hidden unless a main level) on first use."""
        line = self._lines.get(name)
        if line is not None:
            return line
        color, text, style, pos, tip = _LEVELS[name]
        probe = name == "probe"
        drag = name in DRAGGABLE
        line = pg.InfiniteLine(angle=0, movable=probe or drag, pen=pg.mkPen(color, width=1.5, style=style),
                               label=text + " {value:,.1f}",
                               labelOpts={"position": pos, "color": color, "movable": False,
                                          "fill": (0, 0, 0, 0), "anchors": [(0, 1), (0, 1)]})
        line.setToolTip(tip)
        if name not in ("entry", "liquidation", "bankruptcy"):
            line.setVisible(False)
        if probe or drag:
            line.setHoverPen(pg.mkPen(color, width=3))
        if probe:
            line.sigPositionChanged.connect(self._on_probe_moved)
        if drag:
            line.setToolTip(f"{tip} Drag the line to {_DRAG_WORDS[name]}.")
            line.sigDragged.connect(lambda _line, name=name: self.drag_to(name, float(_line.value())))
            line.sigPositionChangeFinished.connect(lambda _line, name=name: self.drop(name, float(_line.value())))
        self.plot.getPlotItem().addItem(line, ignoreBounds=True)
        self._lines[name] = line
        return line

    sl_line = property(lambda self: self._line("stop_loss"))
    tp_line = property(lambda self: self._line("take_profit"))
    ghost_line = property(lambda self: self._line("ghost"))
    fill_line = property(lambda self: self._line("fill"))
    probe_line = property(lambda self: self._line("probe"))

    def _set_level(self, name: str, value: float | None, price_text: str = "") -> bool:
        """Show line ``name`` at ``value`` labelled with ``price_text`` (hide it for None).

        True if anything changed. Every frame re-quotes the position, but its levels rarely move:
        touching an unchanged line would still re-lay out its label and repaint the plot.
        """
        line = self._lines.get(name)
        if value is None:
            if line is None or not line.isVisible():
                return False
            line.setVisible(False)
            return True
        line = line or self._line(name)
        if name == self._dragging:
            return False  # the person holds it: it stays under the mouse
        changed = not line.isVisible()
        if changed:
            line.setVisible(True)  # before relabelling: pyqtgraph skips relabelling a hidden line
        label = f"{_LEVELS[name][1]} {price_text}"
        p = self.session.position
        above = _LABEL_ABOVE_FOR_LONG[name] == (p is None or p.sign > 0)
        anchors = _ABOVE if above else _BELOW
        if line.label.anchors != anchors:
            line.label.anchors = anchors
            line.label.updatePosition()
            changed = True
        if line.value() != value:
            # setValue relabels the line with its label's format: set that first, and lay the
            # label's text out once rather than twice.
            line.label.format = label
            line.setValue(value)
            changed = True
        elif line.label.format != label:
            line.label.setFormat(label)
            changed = True
        return changed

    # ------------------------------------------------------------------ theme

    def apply_palette(self) -> None:
        """The plot and the read-out in the current palette (called on every theme change)."""
        style_plot(self.plot)
        _bg, fg = colors(self.plot)
        self.readout.setStyleSheet(f"color: {fg.name()}; font-family: monospace;")
        self._muted = QColor(fg)

    # ------------------------------------------------------------------ updates

    def refresh_curve(self) -> None:
        feed = self.session.live.feed
        if self._marked and not self.session.live.liquidations:  # the feed was reset: clear the marks
            self._marked = False
            self.liq_marker.setData([], [])
            self.liq_text.setText("")
            self._set_level("fill", None)
        if self.follow:
            self._follow_view()  # moves the view, which redraws the curve
        self._redraw_curve()  # in case the view did not move
        self.source_label.setText(f"{feed.source_name} feed · {feed.n:,} points")
        self._refresh_play_button(self.session.live.playing)

    def _columns(self) -> int:
        """Device pixels across the plot: the envelope keeps each one's lowest and highest mark."""
        vb = self.plot.getPlotItem().getViewBox()
        width = vb.width() * self.plot.devicePixelRatioF()
        return max(math.ceil(width), 100)

    def _redraw_curve(self, *_args: Any) -> None:
        """Hand the curve the feed's envelope for the visible time range (nothing if unchanged)."""
        feed = self.session.live.feed
        vb = self.plot.getPlotItem().getViewBox()
        (x0, x1), _y = vb.viewRange()
        columns = self._columns()
        key = (feed.version, x0, x1, columns)
        if key == self._drawn:
            return
        self._drawn = key
        t, y = feed.envelope(x0, x1, columns)
        self.curve.setData(t, y)

    def _follow_view(self) -> None:
        """Show the latest window of prices and every price level, so the distance is visible."""
        feed = self.session.live.feed
        if not feed.n:
            return
        hi = feed.last_t
        window = max(self._window_s, 600.0)
        vb = self.plot.getPlotItem().getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        # A view that moves changes both axes and every label: move it only when it shows.
        if hi < window:  # the whole history fits: show it all, with room ahead refitted in steps
            if not (x0 == 0.0 and hi <= 0.9 * x1 and x1 <= max(hi * 1.3, 600.0)):
                x0, x1 = 0.0, max(hi * 1.15, 600.0)
        else:  # the latest window, scrolled by whole pixels (a frame adds a fraction of one)
            span = window * 1.05
            pixel = span / self._columns()
            x1 = math.ceil((hi + window * 0.05) / pixel) * pixel
            x0 = x1 - span
        # Every point from x0 on is in view, and the envelope keeps each column's lowest and highest.
        t, y = feed.envelope(x0, x1, self._columns())
        seen = y[t >= x0]
        levels = [float(seen.min()), float(seen.max())] if seen.size else [feed.last_mark]
        levels += [float(line.value()) for line in self._lines.values() if line.isVisible()]
        lo, top = min(levels), max(levels)
        # room beyond the highest and lowest line for a label (a line label sits above or below
        # its line): a label's height as a share of the plot's
        label = (self.fontMetrics().height() + 6) / max(vb.height(), 60.0)
        span = top - lo
        room = span * label / max(1.0 - 2.0 * label, 0.2)
        pad = max(span * 0.06, abs(top) * 1e-4, 1.5 * room)
        # The price axis stays while everything fits with some room and still fills most of it:
        # rescaling at every new extreme or edit would make the chart jitter, and redraw the axis
        # and move every label each time.
        fits = (y0 <= lo - max(pad / 3, room) and top + max(pad / 3, room) <= y1
                and top - lo + 2 * pad >= FOLLOW_Y_FILL * (y1 - y0))
        if fits and [x0, x1] == vb.viewRange()[0]:
            return  # nothing moves (most frames and edits): spare pyqtgraph's range bookkeeping
        y_range = (y0, y1) if fits else (lo - pad, top + pad)
        vb.setRange(xRange=(x0, x1), yRange=y_range, padding=0, update=True)

    def refresh_levels(self) -> None:
        q = self.session.position_quote
        tick = self.session.tick
        fmt_value = self._fmt_price_label
        orders = self.session.orders() if q is not None else {}
        moved = False
        for name, value in (
            ("entry", None if q is None else q.position.entry_price),
            ("liquidation", None if q is None else q.liquidation_price),
            ("bankruptcy", None if q is None else q.bankruptcy_price),
            ("stop_loss", orders.get("stop_loss")),
            ("take_profit", orders.get("take_profit")),
        ):
            if value is not None and math.isfinite(value) and value > 0:
                moved |= self._set_level(name, value, fmt_value(value, tick))
            else:
                moved |= self._set_level(name, None, "")
        # Every new mark re-quotes; only a level that moved changes what the followed view must hold.
        if moved and self.follow:
            self._follow_view()

    @staticmethod
    def _fmt_price_label(value: float, tick: float) -> str:
        # pyqtgraph formats the label with str.format; braces in our text must be escaped.
        return fmt.price(value, tick).replace("{", "{{").replace("}", "}}")

    def refresh_preview(self, result: Any) -> None:
        after = None if result is None else result.after
        lp = math.nan if after is None else after.liquidation_price
        ok = result is not None and math.isfinite(lp) and lp > 0
        text = self._fmt_price_label(lp, self.session.tick) if ok else ""
        if self._set_level("ghost", lp if ok else None, text) and self.follow:
            self._follow_view()

    def _on_liquidated(self, ev: LiquidationEvent) -> None:
        xs = [e.t_s for e in self.session.live.liquidations]
        ys = [e.mark for e in self.session.live.liquidations]
        self.liq_marker.setData(xs, ys)
        self.liq_text.setText(f"liquidated · filled at {fmt.price(ev.fill_price, self.session.tick)}")
        self.liq_text.setPos(ev.t_s, ev.mark)
        self._marked = True
        self._set_level("fill", ev.fill_price, self._fmt_price_label(ev.fill_price, self.session.tick))

    def _refresh_play_button(self, playing: bool) -> None:
        enabled = not self.session.live.feed.finished or playing
        if (playing, enabled) == self._play_state:
            return  # called every frame: a new icon would re-lay out the bar each time
        self._play_state = (playing, enabled)
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Pause" if playing else "Play")
        self.play_button.setEnabled(enabled)

    def _refresh_speed(self, speed: int) -> None:
        i = self.speed_combo.findData(speed)
        if i < 0:
            self.speed_combo.addItem(_speed_text(speed), speed)
            i = self.speed_combo.count() - 1
        self.speed_combo.blockSignals(True)
        self.speed_combo.setCurrentIndex(i)
        self.speed_combo.blockSignals(False)
        # Follow about two real minutes of playback, never less than ten simulated minutes.
        self._window_s = float(max(600, speed * 120))
        if self.follow:
            self.refresh_curve()

    def _set_follow(self, on: bool) -> None:
        self.follow = on
        if on:
            self.refresh_curve()

    # ------------------------------------------------------------------ dragging the price lines

    def _snap(self, price: float) -> float:
        """A dropped price on the contract's tick grid."""
        tick = self.session.tick
        return round(round(price / tick) * tick, 12)

    def drag_to(self, name: str, price: float) -> None:
        """While a line is dragged: its label follows, the read-out says what it would mean."""
        self._dragging = name
        line = self._lines[name]
        tick = self.session.tick
        price = self._snap(price)
        line.label.setFormat(f"{_LEVELS[name][1]} {self._fmt_price_label(price, tick)}")
        if name == "liquidation":
            self._preview_liquidation(price)
            return
        text = f"{_LEVELS[name][1]} {fmt.price(price, tick)}"
        if name == "entry":
            q = self.session.quote_with(entry_price=price)
            if q is not None:
                text += (f": liquidation {fmt.price(q.liquidation_price, tick)}, uPnL {self.session.money(q.unrealized_pnl)} "
                         "(release to set the entry)")
        else:
            q = self.session.quote_at(price)
            if q is not None:
                text += f": PnL {self.session.money(q.unrealized_pnl)} if filled there (before fees); release to move the order"
        self.readout.setText(text)

    def drop(self, name: str, price: float) -> None:
        """A line released: one edit (entry, stop-loss, take-profit) or a what-if preview (liquidation)."""
        self._dragging = None
        s = self.session
        price = self._snap(price)
        try:
            if name == "liquidation":
                q = s.position_quote
                if q is not None and abs(price - q.liquidation_price) < s.tick / 2:
                    s.clear_preview()  # put back where it was (a right click cancels a drag)
                else:
                    self._preview_liquidation(price)
            elif name == "entry":
                if s.position is not None and price != s.position.entry_price:
                    s.edit_position(s.selected, entry=price, merge=False)
            elif s.orders().get(name) != price:
                s.set_order(name, price, merge=False)
        except InvalidInputError as exc:
            self.readout.setText(exc.reason)
            self.message.emit(f"{_LEVELS[name][1]} not moved: {exc.reason}")
        self.refresh_levels()  # every line back where the workspace has it (the liquidation line too)

    def _preview_liquidation(self, price: float) -> None:
        tick = self.session.tick
        try:
            self.session.preview_liquidation_price(price)
        except InvalidInputError as exc:
            self.readout.setText(exc.reason)
            self.liquidationDragged.emit(price, exc.reason)
            return
        self.readout.setText(f"liquidation at {fmt.price(price, tick)}: the what-if tab shows the change; "
                             "Apply makes it real")
        self.liquidationDragged.emit(price, "")

    # ------------------------------------------------------------------ probe (draggable what-if mark)

    def _set_probe(self, on: bool) -> None:
        if on:
            self.probe_line.setValue(self.session.live.live_mark)
            self.probe_line.setVisible(True)
            self._on_probe_moved()
        else:
            self._set_level("probe", None)
            self.readout.setText("")

    def _on_probe_moved(self, *_args: Any) -> None:
        """While dragging: the position quoted at the probe's mark, from core."""
        mark = float(self.probe_line.value())
        tick = self.session.tick
        self.probe_line.label.setFormat(f"what-if mark {self._fmt_price_label(mark, tick)}")
        q = self.session.quote_at(mark)
        if q is None:
            self.readout.setText(f"at {fmt.price(mark, tick)}: --")
            return
        verdict = "LIQUIDATED" if q.liquidatable_now else f"ratio {fmt.pct(q.margin_ratio)}"
        s = self.session
        self.readout.setText(f"at mark {fmt.price(mark, tick)}: uPnL {s.money(q.unrealized_pnl)}  "
                             f"equity {s.money(q.equity)}  {verdict}")

    # ------------------------------------------------------------------ crosshair

    def _on_mouse_moved(self, pos: Any) -> None:
        vb = self.plot.getPlotItem().getViewBox()
        if not self.plot.sceneBoundingRect().contains(pos) or not vb.sceneBoundingRect().contains(pos):
            self.cross_v.setVisible(False)
            self.cross_h.setVisible(False)
            return
        p = vb.mapSceneToView(pos)
        self.show_crosshair(p.x(), p.y())

    def show_crosshair(self, x: float, y: float) -> None:
        """Move the crosshair to (feed time, price) and write the read-out."""
        self.cross_v.setVisible(True)
        self.cross_h.setVisible(True)
        self.cross_v.setValue(x)
        self.cross_h.setValue(y)
        t, marks = self.session.live.feed.view()
        text = f"t {feed_clock(max(x, 0.0))}  price {fmt.price(y, self.session.tick)}"
        if len(t) and 0 <= x <= t[-1]:
            k = int(np.clip(np.searchsorted(t, x), 0, len(t) - 1))
            text += f"  mark then {fmt.price(float(marks[k]), self.session.tick)}"
        q = self.session.quote_at(y)
        if q is not None:
            text += f"  uPnL {self.session.money(q.unrealized_pnl)}  ratio {fmt.pct(q.margin_ratio)}"
        self.readout.setText(text)

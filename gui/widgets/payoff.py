"""The Payoff tab: the selected position's PnL if it were closed at each exit price.

The curve is the engine's PnL at exit (:func:`payoff_pnl`, one vectorised core call over every exit
price of the range), with the entry, the current mark, the liquidation and the bankruptcy price
marked on it (the prices are the session's quote, the PnL at each the same core call). A linear
contract's payoff is a straight line; an inverse contract's, in its coin, bends: a long loses more
coin per dollar the further the price falls. The region past the liquidation price is shaded: an
exit there is never reached, the exchange liquidates the position first. A small table gives the
PnL at exits 10 % and 20 % either side of the entry, where the asymmetry of a curved payoff reads
as numbers.

It is a tab of its own rather than an overlay of the live chart: the chart's x axis is time, the
payoff's is the exit price. Built the first time the tab is shown (like Compare), it follows the
session's signals through a :class:`gui.throttle.Throttle` (the feed moves the mark sixty times a
second). pyqtgraph recipe (STYLE.md §14): every item is created once and updated; the price
levels are labelled vertical ``InfiniteLine`` items added with ``ignoreBounds=True``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from core.margin import position_pnl_at_exit
from core.model import Position
from core.profiles import Profile
from gui.palette import colors, follow_palette, style_plot
from gui.session import Session
from gui.widgets import tips
from gui.widgets.chart import BANKRUPT_COLOR, ENTRY_COLOR, LIQ_COLOR, MARK_COLOR
from gui.widgets.session_view import QtSessionView

THROTTLE_MS: Final = 150
N_POINTS: Final = 401
#: Exits either side of the entry in the table, as fractions of the entry; the drawn range covers them.
MOVES: Final = (-0.2, 0.2)
#: The table's columns: exits at two levels, then at the moves from the entry.
TABLE_LEVELS: Final = ("liquidation", "bankruptcy")
#: How far past the outermost level the range reaches, as a share of the levels' span.
MARGIN_SHARE: Final = 0.1
CURVE_COLOR: Final = "#5b8def"

# name: (colour, caption, pen style, label position along the line (0 bottom .. 1 top), tooltip)
_LEVELS: Final[dict[str, tuple[str, str, Qt.PenStyle, float, str]]] = {
    # all in the upper part, clear of the zero line and the curve: between the liquidation price and
    # the entry the position loses, so the curve is low there. The entry's and the mark's labels sit
    # on opposite sides of their lines at one height; the liquidation and bankruptcy labels, which
    # both point towards the entry, one below the other.
    "entry": (ENTRY_COLOR, "entry", Qt.PenStyle.SolidLine, 0.93, tips.TIPS["entry_price"]),
    "mark": (MARK_COLOR, "mark", Qt.PenStyle.DashLine, 0.93, tips.TIPS["mark_price"]),
    "liquidation": (LIQ_COLOR, "liquidation", Qt.PenStyle.SolidLine, 0.79, tips.TIPS["liquidation_price"]),
    "bankruptcy": (BANKRUPT_COLOR, "bankruptcy", Qt.PenStyle.DotLine, 0.65, tips.TIPS["bankruptcy_price"]),
}


def payoff_pnl(profile: Profile, position: Position, exit_price: npt.ArrayLike) -> Any:
    """The position's PnL closing at ``exit_price`` (scalar or array), in its settlement asset, before
    fees: :func:`core.margin.position_pnl_at_exit` (an inverse contract's ``s*C*S*(1/EP - 1/P)``)."""
    return position_pnl_at_exit(profile, position, exit_price)


def price_range(entry: float, levels: list[float]) -> tuple[float, float]:
    """Exit prices to draw: the moves table's exits around ``entry`` and every positive level, with a
    tenth of their span either side.

    The range never reaches zero (an inverse contract's PnL runs to minus infinity there): it
    starts at half the lowest price or more.
    """
    pos = [entry * (1.0 + f) for f in MOVES] + [x for x in levels if math.isfinite(x) and x > 0]
    lo, hi = min(pos), max(pos)
    span = hi - lo
    return max(lo - MARGIN_SHARE * span, lo / 2.0), hi + MARGIN_SHARE * span


@dataclass(frozen=True, slots=True)
class Payoff:
    """What the tab shows: the curve, the marked levels and the moves from the entry."""

    position: Position
    ccy: str  # the asset PnL is in
    quote_ccy: str  # the currency prices are in
    tick: float
    prices: npt.NDArray[np.float64]
    pnl: npt.NDArray[np.float64]
    levels: dict[str, tuple[float, float]]  # name -> (price, PnL there); NaN price: none
    moves: tuple[tuple[float, float, float], ...]  # (fraction from entry, exit price, PnL)


def payoff_for(session: Session) -> Payoff | None:
    """The selected position's payoff at the session's quote (None when nothing can be drawn)."""
    p, q = session.position, session.position_quote
    if p is None or q is None:
        return None
    prices = {"entry": p.entry_price, "mark": q.mark, "liquidation": q.liquidation_price,
              "bankruptcy": q.bankruptcy_price}
    lo, hi = price_range(p.entry_price, list(prices.values()))
    xs = np.linspace(lo, hi, N_POINTS)
    pr = session.profile
    levels = {k: (x, float(payoff_pnl(pr, p, x)) if math.isfinite(x) and x > 0 else math.nan)
              for k, x in prices.items()}
    moves = tuple((f, p.entry_price * (1.0 + f), float(payoff_pnl(pr, p, p.entry_price * (1.0 + f)))) for f in MOVES)
    return Payoff(position=p, ccy=session.settle_ccy, quote_ccy=session.quote_ccy, tick=session.tick, prices=xs,
                  pnl=np.asarray(payoff_pnl(pr, p, xs), dtype=float), levels=levels, moves=moves)


def level_text(pay: Payoff, name: str) -> str:
    """The label of a level's line: its caption and price (the PnL of an exit there is in the table
    and the line's tooltip)."""
    price = pay.levels[name][0]
    return f"{_LEVELS[name][1]} {fmt.price(price, pay.tick) if math.isfinite(price) else fmt.NONE_TEXT}"


def table_cells(pay: Payoff, money: Callable[..., str]) -> list[tuple[str, str, str]]:
    """(header, exit price, PnL) of each column of the table: the two levels, then the moves.

    ``money`` formats an amount in the settlement asset (:meth:`gui.session.Session.money`).
    """
    cols = [(name, *pay.levels[name]) for name in TABLE_LEVELS]
    cols += [(f"{f * 100:+.0f} %", x, pnl) for f, x, pnl in pay.moves]
    return [(head, fmt.price(x, pay.tick), money(pnl, signed=True)) for head, x, pnl in cols]


def liquidated_region(pay: Payoff) -> tuple[float, float] | None:
    """The exit prices past the liquidation price (a long: below it; a short: above), or None."""
    lp = pay.levels["liquidation"][0]
    if not math.isfinite(lp):
        return None
    lo, hi = float(pay.prices[0]), float(pay.prices[-1])
    return (lo, max(lo, lp)) if pay.position.sign > 0 else (min(lp, hi), hi)


class QtPayoffView(QtSessionView):
    """PnL at exit over a range of prices, with entry, mark, liquidation and bankruptcy marked."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, THROTTLE_MS, parent)
        self.payoff: Payoff | None = None

        self.heading = self.heading_label("payoff_heading")
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("payoff_plot")
        self.plot.setMouseTracking(True)
        pi = self.plot.getPlotItem()
        pi.showGrid(x=False, y=False)
        pi.setMenuEnabled(False)
        for name in ("left", "bottom"):  # "-0.4 BTC", not "-400 (x0.001)"
            pi.getAxis(name).enableAutoSIPrefix(False)
        self.region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(QColor(229, 72, 77, 40)),
                                          pen=pg.mkPen(None))
        self.region.setZValue(-10)
        self.region.setToolTip("Exits past the liquidation price are never reached: the exchange liquidates "
                               "the position first.")
        pi.addItem(self.region, ignoreBounds=True)
        self.zero = pg.InfiniteLine(pos=0.0, angle=0, movable=False, pen=pg.mkPen("#888888", width=1))
        pi.addItem(self.zero, ignoreBounds=True)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(CURVE_COLOR, width=2))
        pi.addItem(self.curve)
        self.points = pg.ScatterPlotItem(size=8)
        self.points.setZValue(5)
        pi.addItem(self.points)
        self.lines: dict[str, pg.InfiniteLine] = {}
        for name, (color, _caption, style, where, tip) in _LEVELS.items():
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(color, width=1, style=style),
                                   label="", labelOpts={"position": where, "color": color, "movable": False})
            line.setToolTip(tip)
            pi.addItem(line, ignoreBounds=True)
            self.lines[name] = line
        dash = pg.mkPen("#888888", style=Qt.PenStyle.DashLine)
        self.cross_v = pg.InfiniteLine(angle=90, movable=False, pen=dash)
        self.cross_v.setVisible(False)
        pi.addItem(self.cross_v, ignoreBounds=True)
        follow_palette(self.plot, self._restyle)

        self.moves = QTableWidget(2, len(TABLE_LEVELS) + len(MOVES))
        self.moves.setObjectName("payoff_moves")
        self.moves.setVerticalHeaderLabels(["Exit", "PnL"])
        self.moves.setHorizontalHeaderLabels([*TABLE_LEVELS, *(f"{f * 100:+.0f} %" for f in MOVES)])
        self.moves.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.moves.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        # every number whole, as the what-if table: columns as wide as their text, scrolling sideways
        # in a narrow window rather than cutting "-68,000.00" to "-68,..."
        self.moves.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.moves.horizontalHeader().setStretchLastSection(True)
        self.moves.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.moves.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.moves.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.moves.setToolTip("PnL of an exit at the liquidation and the bankruptcy price, and 20 % either side "
                              "of the entry, before fees. A straight payoff gains as much from a move up as it "
                              "loses from the same move down; a curved one does not.")
        self.moves.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.readout = QLabel(" ")
        self.readout.setObjectName("payoff_readout")
        self.readout.setToolTip("The exit price under the mouse and the PnL of closing there.")
        # the read-out changes with the mouse: it never sizes the window
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setMinimumWidth(0)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)
        layout.addWidget(self.moves)

        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.follow_session()
        self.refresh()

    def _restyle(self) -> None:
        style_plot(self.plot)
        bg, fg = colors(self.plot)
        self.zero.setPen(pg.mkPen(fg, width=1, style=Qt.PenStyle.DotLine))
        fill = QColor(bg)
        fill.setAlpha(170)  # a label stays readable where it crosses the curve
        for line in self.lines.values():
            line.label.fill = pg.mkBrush(fill)
            line.label.update()

    # ------------------------------------------------------------------ drawing

    def refresh(self) -> None:
        self.throttle.cancel()
        s = self.session
        q = s.position_quote
        key = None if q is None else (s.selected, q, s.scenario.exchange)
        if key == self._key and self.payoff is not None:
            return
        self._key = key
        self.payoff = pay = payoff_for(s)
        pi = self.plot.getPlotItem()
        if pay is None:
            self.heading.setText(f"No payoff: {s.problem}" if s.problem else "No position selected.")
            self.curve.setData([], [])
            self.points.setData([], [])
            for line in self.lines.values():
                line.setVisible(False)
            self.region.setVisible(False)
            self._fill_moves(None)
            return
        p = pay.position
        self.heading.setText(
            f"{p.side.value} {fmt.num(p.qty_base)} {p.symbol} @ {fmt.price(p.entry_price, pay.tick)}, "
            f"{p.leverage:g}x {p.mode.value}: PnL at each exit price, before fees ({pay.ccy}).")
        self.curve.setData(pay.prices, pay.pnl)
        pts = [(x, y) for x, y in pay.levels.values() if math.isfinite(x) and math.isfinite(y)]
        brushes = [pg.mkBrush(_LEVELS[k][0]) for k, (x, y) in pay.levels.items() if math.isfinite(x) and math.isfinite(y)]
        self.points.setData([x for x, _ in pts], [y for _, y in pts], brush=brushes, pen=pg.mkPen(None))
        for name, line in self.lines.items():
            price = pay.levels[name][0]
            shown = math.isfinite(price) and price > 0
            line.setVisible(shown)
            if shown:
                line.setValue(price)
                line.label.setFormat(level_text(pay, name))
                line.label.setText(level_text(pay, name))
                pnl = s.money(pay.levels[name][1], signed=True, unit=True)
                line.setToolTip(f"{_LEVELS[name][4]}\n\nPnL of an exit here: {pnl}")
        self._anchor_labels(pay)
        region = liquidated_region(pay)
        self.region.setVisible(region is not None)
        if region is not None:
            self.region.setRegion(region)
        pi.setLabel("bottom", f"exit price ({pay.quote_ccy})")
        pi.setLabel("left", f"PnL ({pay.ccy})")
        pi.enableAutoRange()
        pi.setXRange(float(pay.prices[0]), float(pay.prices[-1]), padding=0.0)
        self._fill_moves(pay)

    def _anchor_labels(self, pay: Payoff) -> None:
        """Each label on the side of its line towards the middle of the range, so that no label runs
        off the plot: the liquidation and bankruptcy labels towards the entry, the entry's and the
        mark's away from each other (entry right, mark left when they coincide)."""
        entry, mark = pay.levels["entry"][0], pay.levels["mark"][0]
        right = {"liquidation": pay.position.sign > 0, "bankruptcy": pay.position.sign > 0,
                 "entry": entry >= mark, "mark": mark > entry}
        for name, line in self.lines.items():
            anchors = [(0, 0.5), (0, 0.5)] if right[name] else [(1, 0.5), (1, 0.5)]
            if line.label.anchors != anchors:
                line.label.anchors = anchors
                line.label.updatePosition()

    def _fill_moves(self, pay: Payoff | None) -> None:
        cells = ([("", "")] * self.moves.columnCount() if pay is None
                 else [c[1:] for c in table_cells(pay, self.session.money)])
        for c, texts in enumerate(cells):
            for r, text in enumerate(texts):
                item = self.moves.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.moves.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
        # room for the sideways scroll bar whether or not it shows, so the plot never jumps
        bar = self.moves.horizontalScrollBar().sizeHint().height()
        self.moves.setFixedHeight(self.moves.horizontalHeader().sizeHint().height() + 2 * self.moves.rowHeight(0)
                                  + 2 * self.moves.frameWidth() + bar)

    # ------------------------------------------------------------------ crosshair

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        vb = self.plot.getPlotItem().vb
        if self.payoff is None or not vb.sceneBoundingRect().contains(scene_pos):
            return
        self.show_readout(vb.mapSceneToView(scene_pos).x())

    def show_readout(self, exit_price: float) -> str:
        """Move the crosshair to ``exit_price`` and read out the PnL of an exit there."""
        pay = self.payoff
        if pay is None or not (exit_price > 0 and math.isfinite(exit_price)):
            return self.readout.text()
        self.cross_v.setPos(exit_price)
        self.cross_v.setVisible(True)
        pnl = float(payoff_pnl(self.session.profile, pay.position, exit_price))
        text = f"exit {fmt.price(exit_price, pay.tick)}: PnL {self.session.money(pnl, signed=True, unit=True)}"
        region = liquidated_region(pay)
        if region is not None and region[0] <= exit_price <= region[1]:
            text += " (past the liquidation price: liquidated before this exit)"
        if self.readout.text() != text:
            self.readout.setText(text)
        return text

    # ------------------------------------------------------------------ reading (tests)

    def move_cell(self, row: int, column: int) -> str:
        item = self.moves.item(row, column)
        return "" if item is None else item.text()

"""The stress map: two heat maps of the selected position's risk, computed by ``core.stress``.

* **Leverage x added margin**: each cell is the position opened at another leverage (x) with more
  margin added (y), valued at the session's mark; its colour is the distance from the mark to the
  liquidation price in percent (:func:`core.stress.liquidation_distance_grid`). Cells the profile
  refuses (leverage above the tier's maximum or at 1/MMR) are transparent; a cell with no
  liquidation price is drawn at the top of the scale and read out as "no liquidation price".
* **Price move x volatility**: the position as it is, the mark moved by x %, the annual
  volatility y %; the colour is the chance that the mark touches the liquidation price within the
  horizon (:func:`core.stress.touch_probability_grid`, the GBM closed form of ``core.risk``).

Each grid is one vectorised core call (no loop over cells). pyqtgraph recipe (STYLE.md §14): the
ImageItem, colour bar, crosshair and marker are created once and updated; the crosshair follows
``sigMouseMoved`` mapped into the view (no SignalProxy).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from core import fmt
from core.calculators import number
from core.errors import InvalidInputError
from core.model import MarginMode
from core.stress import StressGrid, TouchGrid, liquidation_distance_grid, touch_probability_grid
from gui.palette import follow_palette, style_plot
from gui.session import Session
from gui.widgets.session_view import QtSessionView

THROTTLE_MS: Final = 200
#: red (at or past liquidation) -> amber -> green (far away)
COLORS: Final = ((229, 72, 77), (245, 165, 36), (47, 182, 124))
MODES: Final = (("leverage", "Leverage x added margin"), ("volatility", "Price move x volatility"))
DEFAULT_HORIZON_DAYS: Final = 7.0
MAX_HORIZON_DAYS: Final = 3_650.0


def grid_for(session: Session) -> StressGrid:
    """The stress grid of the selected position at the session's mark (raises InvalidInputError)."""
    p = session.position
    if p is None:
        raise InvalidInputError("position", "select a position first")
    return liquidation_distance_grid(session.profile, session.account_for_quote(), session.selected)


def display_image(grid: StressGrid) -> tuple[npt.NDArray[np.float64], tuple[float, float]]:
    """Distance in percent as drawn, and the colour levels.

    Refused cells stay NaN (transparent); "no liquidation price" (+inf) is drawn as the largest
    finite distance. The levels run from min(0, lowest distance) to the 90th percentile of the
    distances, so that the few far-away cells of 1-2x leverage do not wash out the rest of the map
    (cells beyond it take the top colour; the read-out gives every cell's exact value).
    """
    pct = grid.distance * 100.0
    finite = pct[np.isfinite(pct)]
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    top = float(finite.max()) if finite.size else 100.0
    hi = float(np.percentile(finite, 90)) if finite.size else 100.0
    if hi <= lo:
        hi = lo + 1.0
    img = np.where(np.isposinf(pct), max(top, hi), pct)
    return img, (lo, hi)


def cell_index(x_axis: npt.NDArray[np.float64], y_axis: npt.NDArray[np.float64], x: float,
               y: float) -> tuple[int, int] | None:
    """Row (x axis) and column (y axis) of the evenly spaced cell under view point (x, y), or None."""
    def nearest(axis: npt.NDArray[np.float64], v: float) -> int | None:
        if axis.size == 1:
            return 0
        step = (axis[-1] - axis[0]) / (axis.size - 1)
        k = round(float((v - axis[0]) / step))
        return k if 0 <= k < axis.size else None

    i, j = nearest(x_axis, x), nearest(y_axis, y)
    return None if i is None or j is None else (i, j)


def describe_cell(grid: StressGrid, i: int, j: int, *, tick: float, ccy: str,
                  money: Callable[[float], str] = fmt.money) -> str:
    """The read-out of one cell: leverage, added margin, margin, LP and distance."""
    lev, add = float(grid.leverage[i]), float(grid.added_margin[j])
    head = f"{lev:.4g}x, {'+' if add >= 0 else ''}{money(add)} {ccy} added"
    if not grid.allowed[i, j]:
        return f"{head}: refused by the profile (leverage above the tier maximum or at 1/MMR)"
    body = f"margin {money(float(grid.margin[i, j]))}"
    lp = float(grid.liquidation_price[i, j])
    if not math.isfinite(lp):
        return f"{head}: {body}, no liquidation price (the margin covers the whole position)"
    d = float(grid.distance[i, j])
    now = " (liquidatable at this mark)" if d < 0 else ""
    return f"{head}: {body}, LP {fmt.price(lp, tick)}, distance {fmt.pct(d)}{now}"


def _rect(x_axis: npt.NDArray[np.float64], y_axis: npt.NDArray[np.float64]) -> QRectF:
    """Cells centred on the grid values: each is one step wide."""
    def span(axis: npt.NDArray[np.float64]) -> tuple[float, float]:
        step = (axis[-1] - axis[0]) / (axis.size - 1) if axis.size > 1 else 1.0
        return float(axis[0] - step / 2), float(step * axis.size)

    x0, w = span(x_axis)
    y0, h = span(y_axis)
    return QRectF(x0, y0, w, h)


def touch_grid_for(session: Session, horizon_days: float) -> TouchGrid:
    """The chance-of-liquidation grid of the selected position (volatility marked at the feed's)."""
    p = session.position
    if p is None:
        raise InvalidInputError("position", "select a position first")
    return touch_probability_grid(session.profile, session.account_for_quote(), session.selected,
                                  horizon_years=horizon_days / 365.0)


def describe_touch(grid: TouchGrid, i: int, j: int, *, tick: float, horizon_days: float) -> str:
    """The read-out of one cell of the chance-of-liquidation map."""
    m = grid.mark * (1.0 + float(grid.move[i]))
    head = (f"mark {fmt.price(m, tick)} ({float(grid.move[i]) * 100:+.1f} %), volatility "
            f"{float(grid.sigma[j]) * 100:.0f} %/year")
    if not math.isfinite(grid.liquidation_price):
        return f"{head}: no liquidation price, no chance of liquidation"
    return (f"{head}: LP {fmt.price(grid.liquidation_price, tick)}, chance of liquidation within "
            f"{fmt.num(horizon_days)} days {fmt.pct(float(grid.probability[i, j]))}")


class QtStressMap(QtSessionView):
    """Heat maps of the selected position's risk: distance to liquidation, or chance of liquidation."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, THROTTLE_MS, parent)
        self.mode = MODES[0][0]
        self.grid: StressGrid | None = None
        self.touch: TouchGrid | None = None
        self.horizon_days = DEFAULT_HORIZON_DAYS

        self.mode_box = QComboBox()
        self.mode_box.setObjectName("stress_mode")
        for key, caption in MODES:
            self.mode_box.addItem(caption, key)
        self.horizon = QLineEdit(fmt.num(DEFAULT_HORIZON_DAYS))
        self.horizon.setObjectName("stress_horizon")
        self.horizon.setMaximumWidth(80)
        self.horizon.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.horizon_label = QLabel("Horizon (days)")
        self.horizon_error = QLabel()
        self.horizon_error.setObjectName("stress_horizon_error")
        self.horizon_error.setStyleSheet("color: #e5484d;")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Map"))
        controls.addWidget(self.mode_box)
        controls.addSpacing(16)
        controls.addWidget(self.horizon_label)
        controls.addWidget(self.horizon)
        controls.addWidget(self.horizon_error)
        controls.addStretch(1)

        self.title = QLabel()
        self.title.setObjectName("stress_title")
        self.title.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("stress_plot")
        follow_palette(self.plot, lambda: style_plot(self.plot))
        pi = self.plot.getPlotItem()
        pi.showGrid(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="col-major")  # image[i, j]: i -> x, j -> y
        pi.addItem(self.image)
        self.cmap = pg.ColorMap(pos=[0.0, 0.5, 1.0], color=list(COLORS))
        self.cmap_reversed = pg.ColorMap(pos=[0.0, 0.5, 1.0], color=list(reversed(COLORS)))
        self.colorbar = pg.ColorBarItem(values=(0, 100), colorMap=self.cmap, label="distance to liquidation (%)",
                                        interactive=False)
        self.colorbar.setImageItem(self.image, insert_in=pi)
        self.marker = pg.ScatterPlotItem(size=16, symbol="star", pen=pg.mkPen("k", width=1.5), brush=pg.mkBrush("w"))
        self.marker.setZValue(10)
        pi.addItem(self.marker)
        dash = pg.mkPen("#888", style=Qt.PenStyle.DashLine)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=dash)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=dash)
        for line in (self.vline, self.hline):
            line.setZValue(5)
            line.setVisible(False)
            pi.addItem(line, ignoreBounds=True)
        self.readout = QLabel(" ")
        self.readout.setObjectName("stress_readout")
        self.readout.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)

        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.mode_box.currentIndexChanged.connect(lambda _i: self.set_mode(self.mode_box.currentData()))
        self.horizon.editingFinished.connect(lambda: self.set_horizon(self.horizon.text()))
        self.follow_session()
        self._show_controls()
        self.refresh()

    # ------------------------------------------------------------------ inputs

    def set_mode(self, mode: str) -> None:
        if mode not in dict(MODES):
            raise InvalidInputError("mode", f"expected one of {', '.join(k for k, _ in MODES)}")
        self.mode = mode
        if self.mode_box.currentData() != mode:
            self.mode_box.setCurrentIndex(self.mode_box.findData(mode))
        self._show_controls()
        self._key = None
        self.refresh()

    def set_horizon(self, text: str) -> None:
        """Horizon in days from the field; a refused value is marked and the map keeps the old one."""
        try:
            days = number("horizon", text, lo=0, lo_open=True, hi=MAX_HORIZON_DAYS)
        except InvalidInputError as exc:
            self.horizon_error.setText(f"{exc.field}: {exc.reason}")
            self.horizon.setStyleSheet("QLineEdit { border: 2px solid #e5484d; }")
            return
        self.horizon_error.setText("")
        self.horizon.setStyleSheet("")
        if days != self.horizon_days:
            self.horizon_days = days
            self._key = None
            self.refresh()

    def _show_controls(self) -> None:
        touch = self.mode == "volatility"
        self.horizon.setVisible(touch)
        self.horizon_label.setVisible(touch)
        self.horizon_error.setVisible(touch)

    # ------------------------------------------------------------------ drawing

    def refresh(self) -> None:
        self.throttle.cancel()
        s = self.session
        p = s.position
        key = None if p is None else (self.mode, self.horizon_days, s.selected, s.account_for_quote(),
                                      s.scenario.exchange)
        if key == self._key and (self.grid is not None or self.touch is not None):
            return
        self._key = key
        self.grid = self.touch = None
        try:
            if self.mode == "leverage":
                self._draw_leverage(grid_for(s))
            else:
                self._draw_touch(touch_grid_for(s, self.horizon_days))
        except InvalidInputError as exc:
            self.grid = self.touch = None
            self.image.clear()
            self.marker.setData([], [])
            self.title.setText(f"No stress map: {exc.field}: {exc.reason}")
            return
        self.plot.getPlotItem().vb.autoRange(padding=0.0)

    def _draw_leverage(self, grid: StressGrid) -> None:
        s = self.session
        self.grid = grid
        img, levels = display_image(grid)
        self._draw(img, levels, grid.leverage, grid.added_margin, self.cmap, "distance to liquidation (%)")
        lev, add = grid.current
        self.marker.setData([lev], [add])
        ccy = s.settle_ccy
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", "leverage (x)")
        pi.setLabel("left", f"added margin ({ccy})")
        pos = grid.position
        now = s.position_quote
        now_text = "" if now is None else (f": LP {fmt.price(now.liquidation_price, s.tick)}, "
                                           f"{fmt.pct(now.distance_to_liquidation)} away")
        self.title.setText(
            f"{s.profile.id} {pos.side.value} {fmt.num(pos.qty_base)} {pos.symbol} @ {fmt.num(pos.entry_price)}, "
            f"mark {fmt.num(grid.mark)}: distance to liquidation if opened at another leverage with margin "
            f"added. The star is the position now ({lev:g}x, {s.money(add, unit=True)} added{now_text})."
            + (" Cross: the wallet backs the position, so leverage moves nothing but the fee term."
               if pos.mode is MarginMode.CROSS else ""))

    def _draw_touch(self, grid: TouchGrid) -> None:
        s = self.session
        self.touch = grid
        x, y = grid.move * 100.0, grid.sigma * 100.0
        self._draw(grid.probability * 100.0, (0.0, 100.0), x, y, self.cmap_reversed,
                   f"chance of liquidation within {fmt.num(self.horizon_days)} days (%)")
        vol = s.live.feed.volatility * 100.0
        self.marker.setData([0.0], [vol])
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", "mark moved by (%)")
        pi.setLabel("left", "volatility (%/year)")
        pos = grid.position
        self.title.setText(
            f"{s.profile.id} {pos.side.value} {fmt.num(pos.qty_base)} {pos.symbol}, mark {fmt.num(grid.mark)}, "
            f"LP {fmt.price(grid.liquidation_price, s.tick)}: chance the mark touches the liquidation price "
            f"within {fmt.num(self.horizon_days)} days (GBM, no drift) had the mark moved by x % and were the "
            f"volatility y %. The star is now, at the feed's volatility ({vol:.0f} %).")

    def _draw(self, img: npt.NDArray[np.float64], levels: tuple[float, float], x: npt.NDArray[np.float64],
              y: npt.NDArray[np.float64], cmap: pg.ColorMap, label: str) -> None:
        self.image.setImage(img, levels=levels, autoLevels=False)
        self.image.setRect(_rect(x, y))
        self.colorbar.setColorMap(cmap)
        self.colorbar.setLevels(levels)
        self.colorbar.getAxis("left").setLabel(label)  # a vertical bar labels its left axis
        self._axes = (x, y)

    # ------------------------------------------------------------------ crosshair

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        vb = self.plot.getPlotItem().vb
        if (self.grid is None and self.touch is None) or not vb.sceneBoundingRect().contains(scene_pos):
            return
        p = vb.mapSceneToView(scene_pos)
        self.show_readout(p.x(), p.y())

    def show_readout(self, x: float, y: float) -> str:
        """Move the crosshair to view point (x, y) and read out the cell there."""
        self.vline.setPos(x)
        self.hline.setPos(y)
        self.vline.setVisible(True)
        self.hline.setVisible(True)
        text = " "
        tick = self.session.tick
        if self.grid is not None:
            ij = cell_index(self.grid.leverage, self.grid.added_margin, x, y)
            if ij is not None:
                text = describe_cell(self.grid, *ij, tick=tick, ccy=self.session.settle_ccy, money=self.session.money)
        elif self.touch is not None:
            ij = cell_index(self.touch.move * 100.0, self.touch.sigma * 100.0, x, y)
            if ij is not None:
                text = describe_touch(self.touch, *ij, tick=tick, horizon_days=self.horizon_days)
        if self.readout.text() != text:
            self.readout.setText(text)
        return text

"""The stress map: distance to liquidation over leverage x added margin, as a heat map.

Each cell is the selected position opened at another leverage (x axis) with more margin added
(y axis), valued at the session's mark; its colour is the distance from the mark to the
liquidation price in percent. The whole grid comes from one call of
:func:`core.stress.liquidation_distance_grid` (vectorised: no loop over cells). Cells the profile
refuses (leverage above the tier's maximum or at 1/MMR) are transparent; a cell with no liquidation
price is drawn at the top of the scale and read out as "no liquidation price".

pyqtgraph recipe (STYLE.md §14): the ImageItem, colour bar, crosshair and marker are created once
and updated; the crosshair follows ``sigMouseMoved`` mapped into the view (no SignalProxy).
"""
from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core import fmt
from core.errors import InvalidInputError
from core.model import MarginMode
from core.stress import StressGrid, liquidation_distance_grid
from gui.session import Session

THROTTLE_MS: Final = 200
#: red (at or past liquidation) -> amber -> green (far away)
COLORS: Final = ((229, 72, 77), (245, 165, 36), (47, 182, 124))


def grid_for(session: Session) -> StressGrid:
    """The stress grid of the selected position at the session's mark (raises InvalidInputError)."""
    p = session.position
    if p is None:
        raise InvalidInputError("position", "select a position first")
    mark = session.account_for_quote().mark_of(p)
    wallet = session.account.wallet_usd if p.mode is MarginMode.CROSS else None
    return liquidation_distance_grid(session.profile, p, mark=mark, wallet=wallet)


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


def cell_index(grid: StressGrid, x: float, y: float) -> tuple[int, int] | None:
    """Row (leverage) and column (added margin) of the cell under view point (x, y), or None."""
    def nearest(axis: npt.NDArray[np.float64], v: float) -> int | None:
        if axis.size == 1:
            return 0
        step = (axis[-1] - axis[0]) / (axis.size - 1)
        k = round(float((v - axis[0]) / step))
        return k if 0 <= k < axis.size else None

    i, j = nearest(grid.leverage, x), nearest(grid.added_margin, y)
    return None if i is None or j is None else (i, j)


def describe_cell(grid: StressGrid, i: int, j: int, *, tick: float, ccy: str) -> str:
    """The read-out of one cell: leverage, added margin, margin, LP and distance."""
    lev, add = float(grid.leverage[i]), float(grid.added_margin[j])
    head = f"{lev:.4g}x, {'+' if add >= 0 else ''}{fmt.money(add)} {ccy} added"
    if not grid.allowed[i, j]:
        return f"{head}: refused by the profile (leverage above the tier maximum or at 1/MMR)"
    body = f"margin {fmt.money(float(grid.margin[i, j]))}"
    lp = float(grid.liquidation_price[i, j])
    if not math.isfinite(lp):
        return f"{head}: {body}, no liquidation price (the margin covers the whole position)"
    d = float(grid.distance[i, j])
    now = " (liquidatable at this mark)" if d < 0 else ""
    return f"{head}: {body}, LP {fmt.price(lp, tick)}, distance {fmt.pct(d)}{now}"


def _rect(grid: StressGrid) -> QRectF:
    """Cells centred on the grid values: each is one step wide."""
    def span(axis: npt.NDArray[np.float64]) -> tuple[float, float]:
        step = (axis[-1] - axis[0]) / (axis.size - 1) if axis.size > 1 else 1.0
        return float(axis[0] - step / 2), float(step * axis.size)

    x0, w = span(grid.leverage)
    y0, h = span(grid.added_margin)
    return QRectF(x0, y0, w, h)


class QtStressMap(QWidget):
    """Heat map of the distance to liquidation over leverage x added margin for the selected position."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.grid: StressGrid | None = None
        self._key: object = None

        self.title = QLabel()
        self.title.setObjectName("stress_title")
        self.title.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("stress_plot")
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", "leverage", units="x")
        pi.setLabel("left", "added margin")
        pi.showGrid(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="col-major")  # image[i, j]: i -> x (leverage), j -> y
        pi.addItem(self.image)
        self.cmap = pg.ColorMap(pos=[0.0, 0.5, 1.0], color=list(COLORS))
        self.colorbar = pg.ColorBarItem(values=(0, 100), colorMap=self.cmap, label="distance to liquidation (%)",
                                        interactive=False)
        self.colorbar.setImageItem(self.image, insert_in=pi)
        self.marker = pg.ScatterPlotItem(size=16, symbol="star", pen=pg.mkPen("k", width=1.5), brush=pg.mkBrush("w"))
        self.marker.setZValue(10)
        pi.addItem(self.marker)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine))
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine))
        for line in (self.vline, self.hline):
            line.setZValue(5)
            line.setVisible(False)
            pi.addItem(line, ignoreBounds=True)
        self.readout = QLabel(" ")
        self.readout.setObjectName("stress_readout")
        self.readout.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)

        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(self.refresh)
        session.scenarioChanged.connect(self.schedule)
        session.selectionChanged.connect(lambda _i: self.schedule())
        session.resultsChanged.connect(self.schedule)
        self.refresh()

    def schedule(self) -> None:
        """Refresh soon; bursts within :data:`THROTTLE_MS` give one refresh."""
        if not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        self._timer.stop()
        s = self.session
        p = s.position
        key = None if p is None else (p, s.account_for_quote().mark_of(p), s.account.wallet_usd, s.scenario.exchange)
        if key == self._key and self.grid is not None:
            return
        self._key = key
        try:
            grid = grid_for(s)
        except InvalidInputError as exc:
            self.grid = None
            self.image.clear()
            self.marker.setData([], [])
            self.title.setText(f"No stress map: {exc.field}: {exc.reason}")
            return
        self.grid = grid
        img, levels = display_image(grid)
        self.image.setImage(img, levels=levels, autoLevels=False)
        self.image.setRect(_rect(grid))
        self.colorbar.setLevels(levels)
        lev, add = grid.current
        self.marker.setData([lev], [add])
        ccy = s.quote_ccy
        self.plot.getPlotItem().setLabel("left", f"added margin ({ccy})")
        pos = grid.position
        self.title.setText(
            f"{s.profile.id} {pos.side.value} {fmt.num(pos.qty_base)} {pos.symbol} @ {fmt.num(pos.entry_price)}, "
            f"mark {fmt.num(grid.mark)}: distance to liquidation if opened at another leverage with margin "
            f"added. The star is the position now ({lev:g}x, {fmt.money(add)} {ccy} added)."
            + (" Cross: the wallet backs the position, so leverage moves nothing but the fee term."
               if pos.mode is MarginMode.CROSS else ""))
        self.plot.getPlotItem().vb.autoRange(padding=0.0)

    # ------------------------------------------------------------------ crosshair

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        vb = self.plot.getPlotItem().vb
        if self.grid is None or not vb.sceneBoundingRect().contains(scene_pos):
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
        if self.grid is not None:
            ij = cell_index(self.grid, x, y)
            if ij is not None:
                text = describe_cell(self.grid, *ij, tick=self.session.tick, ccy=self.session.quote_ccy)
        if self.readout.text() != text:
            self.readout.setText(text)
        return text

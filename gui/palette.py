"""Charts and gauges follow the colour theme the moment it changes.

Qt repaints ordinary widgets in the new palette by itself, but a pyqtgraph plot has its own
background and axis pens, and a widget with a style sheet keeps the colours it was polished with.
:func:`follow_palette` calls a widget's restyling function now and again on every palette or theme
change it receives (the Settings dialog's theme, the desktop switching to dark), and
:func:`style_plot` is that function for a plot: background, axes, legend text from the palette.
"""
from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

_CHANGES = frozenset({QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.ThemeChange,
                      QEvent.Type.StyleChange})


class _Follower(QObject):
    def __init__(self, widget: QWidget, restyle: Callable[[], None]) -> None:
        super().__init__(widget)
        self._restyle = restyle
        self._busy = False
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in _CHANGES and not self._busy:
            self._busy = True  # restyling may itself post a palette change to the widget
            try:
                self._restyle()
            finally:
                self._busy = False
        return False


def follow_palette(widget: QWidget, restyle: Callable[[], None]) -> None:
    """Call ``restyle`` now and whenever ``widget`` receives a new palette or theme."""
    _Follower(widget, restyle)
    restyle()


def colors(widget: QWidget) -> tuple[QColor, QColor]:
    """(background, text) of ``widget``'s palette, as a chart draws them."""
    pal = widget.palette()
    return pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)


def style_plot(plot: pg.PlotWidget) -> None:
    """Background, axes and legend text of ``plot`` in its palette's colours."""
    bg, fg = colors(plot)
    plot.setBackground(bg)
    pi = plot.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        ax = pi.getAxis(name)
        ax.setPen(pg.mkPen(fg))
        ax.setTextPen(pg.mkPen(fg))
    if pi.legend is not None:
        pi.legend.setLabelTextColor(fg)
    for name in ("left", "bottom"):
        label = pi.getAxis(name).label
        if label is not None:
            label.setDefaultTextColor(fg)

"""Results of the selected position: the five prices and the break-even, margins, tier, margin-ratio
gauge, distance, uPnL before and after fees.

Every number is a field of :class:`core.quote.PositionQuote` formatted by ``core.fmt`` (prices to the
contract tick, "--" where there is none). Hovering a number shows what it means and its arithmetic
(``PositionQuote.explain``); the Arithmetic pane lists them all.
"""
from __future__ import annotations

import math
import time
from typing import Final

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from core.quote import PositionQuote
from gui.live_feed import LiquidationEvent
from gui.palette import colors, follow_palette
from gui.session import Session
from gui.widgets.tips import TIPS

WARN_RATIO: Final = 0.5  # gauge turns amber
DANGER_RATIO: Final = 0.8  # and red; 100 % liquidates
# While only the streamed mark moves, the Arithmetic pane is rewritten at most this often: laying
# out its HTML costs more than the rest of a playback frame, and text changing 60 times a second
# cannot be read anyway. Edits, selections and liquidations rewrite it at once.
DETAILS_INTERVAL_S: Final = 0.1

ROWS: Final = (
    ("entry_price", "Entry"),
    ("mark_price", "Mark"),
    ("liquidation_price", "Liquidation"),
    ("bankruptcy_price", "Bankruptcy"),
    ("fill_price", "Liquidation fill"),
    ("break_even_price", "Break-even (fees)"),
    ("initial_margin", "Initial margin"),
    ("maintenance_margin", "Maintenance margin"),
    ("tier", "Tier"),
    ("distance", "Distance to liq."),
    ("unrealized_pnl", "Unrealised PnL"),
    ("net_unrealized_pnl", "Net uPnL"),
    ("equity", "Equity"),
)

_GAUGE_COLOR: Final = {"ok": "#2fb67c", "warn": "#f5a524", "danger": "#e5484d"}


def gauge_level(ratio: float) -> str:
    if not math.isfinite(ratio) or ratio >= DANGER_RATIO:
        return "danger"
    return "warn" if ratio >= WARN_RATIO else "ok"


class QtResults(QWidget):
    """The headline numbers of the selected position, with their arithmetic."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        box = QGroupBox("Results")
        grid = QGridLayout(box)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(3)
        self.values: dict[str, QLabel] = {}
        self.captions: dict[str, QLabel] = {}
        for r, (key, caption) in enumerate(ROWS):
            cap = QLabel(caption)
            cap.setToolTip(TIPS.get(key, ""))
            val = QLabel("--")
            val.setObjectName(f"result_{key}")
            val.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(cap, r, 0)
            grid.addWidget(val, r, 1)
            self.values[key] = val
            self.captions[key] = cap
        r = len(ROWS)
        cap = QLabel("Margin ratio")
        cap.setToolTip(TIPS["margin_ratio"])
        self.gauge = QProgressBar()
        self.gauge.setObjectName("marginRatioGauge")
        self.gauge.setRange(0, 1000)
        self.gauge.setTextVisible(True)
        self.gauge.setMinimumWidth(140)
        self.gauge.setProperty("level", "ok")
        follow_palette(self, self._style_gauge)  # the panel: a widget with a style sheet is not told
        grid.addWidget(cap, r, 0)
        grid.addWidget(self.gauge, r, 1)
        self.captions["margin_ratio"] = cap
        grid.setColumnStretch(1, 1)

        self.status = QLabel()
        self.status.setObjectName("resultsStatus")
        self.status.setWordWrap(True)
        self.status.setFrameShape(QFrame.Shape.StyledPanel)
        self.status.setVisible(False)

        self.details = QTextBrowser()
        self.details.setObjectName("arithmetic")
        self.details.setToolTip("The arithmetic behind each number, with the position's numbers filled in.")
        self.details.setMinimumHeight(60)
        # The text is usually taller than the pane. A scroll bar that may come and go makes every
        # rewrite lay the document out twice (without it, then with it) and move the viewport.
        self.details.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        dbox = QGroupBox("Arithmetic")
        dl = QVBoxLayout(dbox)
        dl.setContentsMargins(4, 4, 4, 4)
        dl.addWidget(self.details)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)
        layout.addWidget(self.status)
        layout.addWidget(dbox, 1)

        self._shown: dict[str, tuple[object, ...]] = {}  # what each part shows now, see _changed
        self._details_key: tuple[object, ...] = ()  # what the Arithmetic pane was last written for
        self._details_at = -math.inf  # and when (time.monotonic)
        self._details_pending = ""
        self._details_timer = QTimer(self)
        self._details_timer.setSingleShot(True)
        self._details_timer.timeout.connect(lambda: self._set_details(self._details_pending))
        session.resultsChanged.connect(self.refresh)
        session.live.liquidated.connect(lambda _ev: self.refresh())
        self.refresh()

    def _changed(self, part: str, *state: object) -> bool:
        """True (and remember ``state``) unless ``part`` of the pane already shows ``state``.

        Every frame of playback re-quotes, and most of what this pane shows stays put: setting a
        label's tooltip, a style sheet or a progress value again still costs a re-polish, a
        re-layout or a synchronous repaint, which was most of an edit's time.
        """
        if self._shown.get(part) == state:
            return False
        self._shown[part] = state
        return True

    def text(self, key: str) -> str:
        return self.values[key].text() if key in self.values else self.gauge.format()

    def refresh(self) -> None:
        s = self.session
        q = s.position_quote
        if q is None:
            for key, v in self.values.items():
                if self._changed(key, fmt.NONE_TEXT, ""):
                    v.setText(fmt.NONE_TEXT)
                    v.setToolTip("")
            if self._changed("gauge", None):
                self.gauge.setValue(0)
                self.gauge.setFormat(fmt.NONE_TEXT)
            self._set_details(s.problem, plain=True)
            self._set_status(s.problem, "danger" if s.problem else "")
            return
        tick = s.tick
        ev = next((e for e in reversed(s.live.liquidations) if e.index == s.selected
                   or (e.cross and q.position.mode.value == "cross")), None)
        t = q.tier
        texts = {
            "entry_price": fmt.price(q.position.entry_price, tick),
            "mark_price": fmt.price(q.mark, tick),
            "liquidation_price": fmt.price(q.liquidation_price, tick),
            "bankruptcy_price": fmt.price(q.bankruptcy_price, tick),
            "fill_price": fmt.price(None if ev is None else ev.fill_price, tick),
            "initial_margin": s.money(q.initial_margin, unit=True),
            "maintenance_margin": s.money(q.maintenance_margin, unit=True),
            # the tier's notional range is in its tooltip (the maintenance margin's arithmetic)
            "tier": f"{t.index + 1}: MMR {fmt.pct(t.mmr)}, max {fmt.num(t.max_leverage)}x",
            "distance": fmt.pct(q.distance_to_liquidation),
            "unrealized_pnl": s.money(q.unrealized_pnl, unit=True),
            "net_unrealized_pnl": s.money(q.net_unrealized_pnl, unit=True),
            "break_even_price": fmt.price(q.break_even_price, tick),
            "equity": s.money(q.equity, unit=True),
        }
        explain = dict(q.explain)
        explain_key = {"entry_price": None, "mark_price": "notional", "fill_price": None, "tier": "maintenance_margin",
                       "distance": "liquidation_price"}
        for key, label in self.values.items():
            ek = explain_key.get(key, key)
            arithmetic = explain.get(ek, "") if ek else ""
            if key == "fill_price" and ev is not None:
                arithmetic = ev.describe(tick)
            if key == "distance" and math.isfinite(q.distance_to_liquidation):
                arithmetic = (f"distance = side x (mark - LP) / mark = ({fmt.price(q.mark, tick)} - "
                              f"{fmt.price(q.liquidation_price, tick)}) / {fmt.price(q.mark, tick)} = "
                              f"{fmt.pct(q.distance_to_liquidation)}")
            tip = TIPS.get(key, "") + (f"\n\n{arithmetic}" if arithmetic else "")
            if self._changed(key, texts[key], tip):
                label.setText(texts[key])
                label.setToolTip(tip)
        self._set_gauge(q)
        lines = [f"<b>{k.replace('_', ' ')}</b>: {v}" for k, v in explain.items()]
        html = "<br>".join(lines)
        details_key = (s.scenario, s.selected, len(s.live.liquidations))
        wait = self._details_at + DETAILS_INTERVAL_S - time.monotonic()
        if details_key == self._details_key and wait > 0:  # only the mark moved, and very recently
            self._details_pending = html
            if not self._details_timer.isActive():
                self._details_timer.start(max(1, math.ceil(wait * 1000)))
        else:
            self._details_key = details_key
            self._set_details(html)
        fill = s.live.fill_of(s.selected)
        if ev is not None:
            self._set_status(ev.describe(tick), "danger")
        elif fill is not None:
            self._set_status(fill.describe(tick), "warning")
        elif q.liquidatable_now:
            self._set_status("At this mark the position is liquidatable: equity is below the maintenance margin.", "danger")
        elif s.problem:
            self._set_status(s.problem, "danger")
        else:
            self._set_status("", "")

    def flush_details(self) -> None:
        """Write a pending Arithmetic update now (tests step it instead of waiting on the clock)."""
        if self._details_timer.isActive():
            self._set_details(self._details_pending)

    def _set_details(self, text: str, *, plain: bool = False) -> None:
        self._details_timer.stop()
        if not self._changed("details", text, plain):  # re-laying out the document costs a frame's time
            return
        self._details_at = time.monotonic()
        if plain:
            self.details.setPlainText(text)
        else:
            self.details.setHtml(text)

    def _set_gauge(self, q: PositionQuote) -> None:
        ratio = q.margin_ratio
        level = gauge_level(ratio)
        value = round(min(max(ratio, 0.0), 1.0) * 1000) if math.isfinite(ratio) else 1000
        text = fmt.pct(ratio)
        if self._changed("gauge", value, text):
            # QProgressBar.setValue repaints at once (synchronously, style sheet and all) and
            # setFormat again later; with updates off the two become one ordinary, queued paint.
            self.gauge.setUpdatesEnabled(False)
            self.gauge.setValue(value)
            self.gauge.setFormat(text)
            self.gauge.setUpdatesEnabled(True)
        if self._changed("gauge style", level):  # a new style sheet re-polishes the widget
            self.gauge.setProperty("level", level)
            self._style_gauge()
        tip = TIPS["margin_ratio"] + "\n\n" + q.explain.get("margin_ratio", "")
        if self._changed("gauge tip", tip):
            self.gauge.setToolTip(tip)

    def _style_gauge(self) -> None:
        """The gauge's colours: its level's chunk, and the palette's background and text.

        A widget with a style sheet keeps the colours it was polished with, so the groove and the
        text are written out from the current palette, again at every theme change (gui.palette).
        """
        # the panel's palette, not the gauge's: a style sheet's own background becomes the gauge's
        bg, fg = colors(self)
        mid = self.palette().color(QPalette.ColorRole.Mid)
        level = self.gauge.property("level") or "ok"
        self.gauge.setStyleSheet(
            f"QProgressBar {{ background: {bg.name()}; color: {fg.name()}; border: 1px solid {mid.name()}; "
            f"border-radius: 2px; text-align: center; }} "
            f"QProgressBar::chunk {{ background: {_GAUGE_COLOR[str(level)]}; }}")

    def _set_status(self, text: str, level: str) -> None:
        if not self._changed("status", text, level):
            return
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self.status.setProperty("level", level)
        color = "#e5484d" if level == "danger" else "#f5a524"
        self.status.setStyleSheet(f"QLabel {{ border: 1px solid {color}; padding: 4px; color: {color}; }}" if text else "")

    def last_liquidation(self) -> LiquidationEvent | None:
        return self.session.live.liquidations[-1] if self.session.live.liquidations else None

"""What-if: try a change on the selected position before making it.

Moving a control previews the change through the session (``core.whatif``): the chart shows the new
liquidation price as a dashed ghost line and the table shows before, after and the change of each
number. Apply pushes the change as one undoable command; a refused value shows the core's message
(naming the allowed range) and nothing is previewed.
"""
from __future__ import annotations

import math
from typing import Any, Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from core.errors import InvalidInputError
from core.simspec import MAX_DURATION_S, MAX_FUNDING_RATE
from core.validate import MAX_AMOUNT
from gui.session import WHATIF_ACTIONS, Session
from gui.widgets.tips import TIPS

SLIDER_STEPS: Final = 1000

DELTA_ROWS: Final = (
    ("qty", "Size", "qty"),
    ("entry", "Entry", "price"),
    ("liquidation_price", "Liquidation", "price"),
    ("bankruptcy_price", "Bankruptcy", "price"),
    ("initial_margin", "Initial margin", "money"),
    ("maintenance_margin", "Maint. margin", "money"),
    ("margin", "Margin", "money"),
    ("margin_ratio", "Margin ratio", "pct"),
    ("distance_to_liquidation", "Distance", "pct"),
    ("break_even_price", "Break-even", "price"),
    ("net_unrealized_pnl", "Net uPnL", "money"),
)
#: The hold page's starting number of days.
HOLD_DAYS: Final = 30.0


def _decimals(tick: float) -> int:
    """Decimals a price of this tick is shown with (0.1 -> 1, 1e-5 -> 5)."""
    return max(0, -math.floor(math.log10(tick) + 1e-9)) if tick > 0 else 2


def _spin(decimals: int, hi: float = MAX_AMOUNT, suffix: str = "") -> QDoubleSpinBox:
    w = QDoubleSpinBox()
    w.setDecimals(decimals)
    w.setRange(0.0, hi)
    w.setGroupSeparatorShown(True)
    w.setKeyboardTracking(False)
    w.setMinimumWidth(90)  # not as wide as the largest value of the range (the panel fits 1024 px)
    if suffix:
        w.setSuffix(suffix)
    return w


class _Page(QWidget):
    """An amount (spin box) paired with a slider over [0, upper]."""

    def __init__(self, panel: QtWhatIfPanel, decimals: int, suffix: str = "") -> None:
        super().__init__()
        self.panel = panel
        self.spin = _spin(decimals, suffix=suffix)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.hi = 1.0
        self.lo = 0.0
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)
        self._sync = False

    def set_bounds(self, lower: float, upper: float) -> None:
        self.lo, self.hi = lower, max(upper, lower)
        self._from_spin(self.spin.value(), preview=False)

    def _from_slider(self, v: int) -> None:
        if self._sync:
            return
        self._sync = True
        self.spin.setValue(self.lo + (self.hi - self.lo) * v / SLIDER_STEPS)
        self._sync = False
        self.panel.update_preview()

    def _from_spin(self, v: float, preview: bool = True) -> None:
        if self._sync:
            return
        self._sync = True
        span = self.hi - self.lo
        self.slider.setValue(round((v - self.lo) / span * SLIDER_STEPS) if span > 0 else 0)
        self._sync = False
        if preview:
            self.panel.update_preview()


class QtWhatIfPanel(QWidget):
    """Add/remove margin, leverage slider, partial close, add to the position, hold with funding;
    preview and apply."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._quiet = False
        self._table_key: tuple[Any, ...] | None = None
        self.action = QComboBox()
        self.action.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.action.setMinimumContentsLength(12)
        for key, (label, _fn) in WHATIF_ACTIONS.items():
            self.action.addItem(label, key)
            self.action.setItemData(self.action.count() - 1, TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.action.setToolTip(TIPS["whatif"])
        self.pages = QStackedWidget()

        self.add_margin = _Page(self, 2)
        self.add_margin.form.addRow("Amount", self.add_margin.spin)
        self.add_margin.form.addRow("", self.add_margin.slider)
        self.remove_margin = _Page(self, 2)
        self.remove_margin.form.addRow("Amount", self.remove_margin.spin)
        self.remove_margin.form.addRow("", self.remove_margin.slider)
        self.leverage = _Page(self, 2, "x")
        self.leverage.form.addRow("Leverage", self.leverage.spin)
        self.leverage.form.addRow("", self.leverage.slider)
        self.close_qty = _Page(self, 6)
        self.close_price = _spin(2)
        self.close_price.valueChanged.connect(lambda _v: self.update_preview())
        self.close_qty.form.addRow("Close size", self.close_qty.spin)
        self.close_qty.form.addRow("", self.close_qty.slider)
        self.close_qty.form.addRow("At price", self.close_price)
        self.add_qty = _Page(self, 6)
        self.add_price = _spin(2)
        self.add_price.valueChanged.connect(lambda _v: self.update_preview())
        self.add_qty.form.addRow("Add size", self.add_qty.spin)
        self.add_qty.form.addRow("", self.add_qty.slider)
        self.add_qty.form.addRow("At price", self.add_price)
        self.target = QWidget()
        self.target_price = _spin(2)
        self.target_price.valueChanged.connect(lambda _v: self.update_preview())
        self.target_lever = QComboBox()
        for key, text in (("margin", "the margin (cross: the wallet)"), ("leverage", "the leverage"),
                          ("size", "cutting the size")):
            self.target_lever.addItem(text, key)
        self.target_lever.setToolTip(TIPS["target_lever"])
        self.target_lever.currentIndexChanged.connect(self._on_lever)
        target_form = QFormLayout(self.target)
        target_form.setContentsMargins(0, 0, 0, 0)
        target_form.addRow("Liquidation at", self.target_price)
        target_form.addRow("By", self.target_lever)
        self.hold = QWidget()
        self.hold_days = _spin(2, hi=MAX_DURATION_S / 86_400.0, suffix=" d")
        self.hold_days.setToolTip(TIPS["hold_days"])
        self.hold_rate = _spin(5, hi=MAX_FUNDING_RATE * 100, suffix=" %")
        self.hold_rate.setMinimum(-MAX_FUNDING_RATE * 100)
        self.hold_rate.setToolTip(TIPS["funding_rate"])
        self.hold_interval = QLabel()
        self.hold_use = QPushButton("Use for the workspace")
        self.hold_use.setToolTip("Make this rate the workspace's funding rate: the live feed and the simulator pay it "
                                 "(undo with Ctrl+Z).")
        self.hold_use.clicked.connect(self._use_rate)
        for w in (self.hold_days, self.hold_rate):
            w.valueChanged.connect(lambda _v: self.update_preview())
        rate_row = QHBoxLayout()
        rate_row.setContentsMargins(0, 0, 0, 0)
        rate_row.addWidget(self.hold_rate, 1)
        rate_row.addWidget(self.hold_interval)
        hold_form = QFormLayout(self.hold)
        hold_form.setContentsMargins(0, 0, 0, 0)
        hold_form.addRow("Hold", self.hold_days)
        hold_form.addRow("Funding rate", rate_row)
        hold_form.addRow("", self.hold_use)
        self.page_of = {"add_margin": self.add_margin, "remove_margin": self.remove_margin,
                        "change_leverage": self.leverage, "partial_close": self.close_qty,
                        "add_to_position": self.add_qty, "target_liquidation": self.target,
                        "hold": self.hold}
        for key, page in self.page_of.items():
            page.setToolTip(TIPS[key])
            self.pages.addWidget(page)
        self.action.currentIndexChanged.connect(self._on_action)

        self.table = QTableWidget(len(DELTA_ROWS), 3)
        self.table.setObjectName("whatifDeltas")
        self.table.setHorizontalHeaderLabels(("Now", "After", "Change"))
        self.table.setVerticalHeaderLabels([r[1] for r in DELTA_ROWS])
        # every number whole: columns as wide as their text (the table scrolls sideways in a narrow
        # window rather than cut "68,000.0" to "68,00...")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.setToolTip("Before and after the change, and the difference (after - before).")
        self.message = QLabel()
        self.message.setObjectName("whatifMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #e5484d;")
        self.message.setVisible(False)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.outcome = QLabel()
        self.outcome.setObjectName("whatifOutcome")
        self.outcome.setWordWrap(True)
        self.outcome.setVisible(False)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Make the previewed change (undo with Ctrl+Z).")
        self.apply_button.clicked.connect(self.apply)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Forget the preview.")
        self.clear_button.clicked.connect(self.clear)

        box = QGroupBox("What-if")
        v = QVBoxLayout(box)
        v.setContentsMargins(6, 6, 6, 6)
        v.addWidget(self.action)
        v.addWidget(self.pages)
        v.addWidget(self.message)
        v.addWidget(self.table, 1)
        v.addWidget(self.outcome)
        v.addWidget(self.note)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.clear_button)
        row.addWidget(self.apply_button)
        v.addLayout(row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)

        session.previewChanged.connect(self._show)
        session.resultsChanged.connect(self._on_results)
        session.scenarioChanged.connect(self.reset_controls)
        session.selectionChanged.connect(lambda _i: self.reset_controls())
        self.reset_controls()

    # ------------------------------------------------------------------ controls

    @property
    def current_action(self) -> str:
        return str(self.action.currentData())

    def set_action(self, key: str) -> None:
        self.action.setCurrentIndex(self.action.findData(key))

    def _on_action(self, _i: int) -> None:
        self.pages.setCurrentWidget(self.page_of[self.current_action])
        if self._quiet:
            return
        self.session.clear_preview()
        self.message.setVisible(False)

    def _on_lever(self, _i: int) -> None:
        self.session.target_lever = str(self.target_lever.currentData())
        self.update_preview()

    def show_target(self, price: float, error: str = "") -> None:
        """A liquidation line dragged on the chart: this page shows the price (and the refusal, if any)."""
        self._quiet = True
        try:
            self.set_action("target_liquidation")
            self.target_price.setValue(price)
        finally:
            self._quiet = False
        self.message.setText(error)
        self.message.setVisible(bool(error))

    def reset_controls(self) -> None:
        """Bounds and starting values from the session (no preview)."""
        self._quiet = True
        try:
            lim = self.session.whatif_limits()
            p = self.session.position
            settle = self.session.settle_ccy
            # amounts in the settle asset: 0.0125 BTC needs more than two decimals
            for page in (self.add_margin, self.remove_margin):
                if page.spin.suffix() != f" {settle}":
                    page.spin.setDecimals(fmt.asset_decimals(settle))
                    page.spin.setSuffix(f" {settle}")
            self.add_margin.spin.setValue(0.0)
            self.add_margin.set_bounds(0.0, lim["free_balance"])
            self.remove_margin.spin.setValue(0.0)
            self.remove_margin.set_bounds(0.0, lim["max_removable"])
            self.leverage.spin.setRange(1.0, max(lim["max_leverage"], 1.0))
            self.leverage.spin.setValue(1.0 if p is None else p.leverage)
            self.leverage.set_bounds(1.0, lim["max_leverage"])
            self.close_qty.spin.setValue(0.0)
            self.close_qty.set_bounds(0.0, lim["qty"])
            self.close_price.setValue(lim["mark"])
            self.add_qty.spin.setValue(0.0)
            self.add_qty.set_bounds(0.0, lim["qty"])
            self.add_price.setValue(lim["mark"])
            q = self.session.position_quote
            self.target_price.setRange(0.0, 1e15)
            self.target_price.setDecimals(max(2, _decimals(self.session.tick)))
            lp = float("nan") if q is None else q.liquidation_price
            self.target_price.setValue(lp if math.isfinite(lp) else lim["mark"])
            self.hold_days.setValue(HOLD_DAYS)
            self.hold_rate.setValue(lim["funding_rate"] * 100)
            self.hold_interval.setText(f"every {lim['funding_interval_h']:g} h")
            s = self.session
            self.note.setText(f"Free balance {s.money(lim['free_balance'], unit=True)}; removable margin "
                              f"{s.money(lim['max_removable'], unit=True)}")
        finally:
            self._quiet = False
        self.message.setVisible(False)
        self._fill_table(None)
        self.outcome.setVisible(False)
        self.apply_button.setEnabled(False)

    def params(self) -> dict[str, Any]:
        a = self.current_action
        if a == "add_margin":
            return {"amount": self.add_margin.spin.value()}
        if a == "remove_margin":
            return {"amount": self.remove_margin.spin.value()}
        if a == "change_leverage":
            return {"leverage": self.leverage.spin.value()}
        if a == "partial_close":
            return {"qty": self.close_qty.spin.value(), "exit_price": self.close_price.value()}
        if a == "target_liquidation":
            return {"target": self.target_price.value(), "lever": str(self.target_lever.currentData())}
        if a == "hold":
            return {"days": self.hold_days.value(), "rate": self.hold_rate.value() / 100.0}
        return {"qty": self.add_qty.spin.value(), "price": self.add_price.value()}

    def _use_rate(self) -> None:
        try:
            self.session.set_funding_rate(self.hold_rate.value() / 100.0)
        except InvalidInputError as exc:
            self.message.setText(f"{exc.field}: {exc.reason}")
            self.message.setVisible(True)

    def update_preview(self) -> None:
        if self._quiet:
            return
        try:
            self.session.preview(self.current_action, **self.params())
        except InvalidInputError as exc:
            self.message.setText(f"{exc.field}: {exc.reason}")
            self.message.setVisible(True)
            self.apply_button.setEnabled(False)
            self._fill_table(None)
            return
        self.message.setVisible(False)

    def apply(self) -> None:
        try:
            self.session.apply_preview()
        except InvalidInputError as exc:
            self.message.setText(f"{exc.field}: {exc.reason}")
            self.message.setVisible(True)

    def clear(self) -> None:
        self.session.clear_preview()
        self.reset_controls()

    # ------------------------------------------------------------------ table

    def _on_results(self) -> None:
        """The mark moved: the "Now" column follows it unless a preview is on show."""
        if self.session.preview_result is None:
            self._fill_table(None)

    def _show(self, result: Any) -> None:
        if result is not None and self.session.preview_action != self.current_action:
            self._quiet = True  # a preview made elsewhere (a line dragged on the chart): show its page
            try:
                self.set_action(self.session.preview_action)
            finally:
                self._quiet = False
        self._fill_table(result)
        self.outcome.setText(self.outcome_text(result))
        self.outcome.setVisible(bool(self.outcome.text()))
        self.apply_button.setEnabled(result is not None)

    def outcome_text(self, result: Any) -> str:
        """What the table cannot show: realised PnL, money moved, and the other positions it moves."""
        if result is None:
            return ""
        s = self.session
        tick = s.tick
        lines = []
        if result.action == "partial_close":
            at = self.close_price.value() if s.preview_action == "partial_close" else result.before.mark
            lines.append(f"Realised PnL {s.money(result.realized_pnl, signed=True, unit=True)} at "
                         f"{fmt.price(at, tick)} before fees; "
                         f"{s.money(result.realized_net_pnl, signed=True, unit=True)} after both fees and funding")
        if s.preview_action == "target_liquidation" and result.after is not None:
            lines.append(self._target_text(result))
        f = result.funding
        if f is not None:
            pays = "paid" if f.paid >= 0 else "received"
            lines.append(f"{f.days:g} d = {f.intervals:,} payments at {fmt.pct(f.rate, 4)}: "
                         f"{s.money(abs(f.paid), unit=True)} {pays}")
            if f.liquidation_intervals is None:
                lines.append("Funding alone does not liquidate it within ten years.")
            else:
                within = ", within the hold" if f.liquidated_within else ""
                lines.append(f"Funding alone liquidates it on day {f.liquidation_days:,.2f} "
                             f"(payment {f.liquidation_intervals:,}{within}).")
        if result.action == "add_to_position" and result.position is not None:
            lines.append(f"New size {fmt.num(result.position.qty_base)}, average entry "
                         f"{fmt.price(result.position.entry_price, tick)}")
        if result.balance_change:
            lines.append(f"Free balance {s.money(result.balance_change, signed=True, unit=True)}")
        shared = result.before.shares_lp_with
        for j, lp_before, lp_after in result.others:
            p = result.account_before.positions[j]
            why = ("the other leg: in cross both legs of a symbol share one liquidation price, so it moves with "
                   "this one" if j in shared else "shares the wallet")
            its_tick = s.profile.contract(p.symbol).tick_size
            lines.append(f"Also moves #{j + 1} {p.side.value} {p.symbol} ({why}): liquidation "
                         f"{fmt.price(lp_before, its_tick)} → {fmt.price(lp_after, its_tick)}")
        return "\n".join(lines)

    def _target_text(self, result: Any) -> str:
        """How the dragged liquidation price is reached, in one line."""
        tick = self.session.tick
        lp = fmt.price(result.after.liquidation_price, tick)
        if result.action in ("add_margin", "remove_margin"):
            return f"Liquidation at {lp}: {'add' if result.action == 'add_margin' else 'remove'} " \
                   f"{self.session.money(abs(result.balance_change), unit=True)} of margin"
        if result.action == "change_wallet":
            verb = "deposit" if result.balance_change < 0 else "withdraw"
            return f"Liquidation at {lp}: {verb} {self.session.money(abs(result.balance_change), unit=True)} (the cross wallet)"
        if result.action == "change_leverage" and result.position is not None:
            return f"Liquidation at {lp}: leverage {result.position.leverage:.4g}x"
        if result.action == "partial_close" and result.position is not None:
            cut = result.before.position.qty_base - result.position.qty_base
            return f"Liquidation at {lp}: close {fmt.num(cut)} at the mark"
        return f"Liquidation at {lp}"

    def _fill_table(self, result: Any) -> None:
        s = self.session
        q = s.position_quote
        state = (q, result, s.settle_ccy)
        old = self._table_key
        if old is not None and all(a is b for a, b in zip(state, old, strict=True)):
            return  # the same quote and preview objects: every cell already says it
        self._table_key = state
        tick = s.tick
        before = q if result is None else result.before
        after = None if result is None else result.after
        for r, (key, _label, kind) in enumerate(DELTA_ROWS):
            def show(x: float | None, signed: bool = False, kind: str = kind) -> str:
                if x is None or (isinstance(x, float) and math.isnan(x)):
                    return fmt.NONE_TEXT
                if kind == "price":
                    text = fmt.price(x, tick)
                elif kind == "qty":
                    text = fmt.num(x)
                elif kind == "pct":
                    text = fmt.pct(x)
                else:
                    text = s.money(x)
                return ("+" + text) if signed and x > 0 else text
            now = None if before is None else self._value(before, key)
            aft = None if after is None else self._value(after, key)
            delta = None if result is None else result.deltas.get(key)
            for c, text in enumerate((show(now), show(aft) if result is not None else "",
                                      show(delta, signed=True) if result is not None else "")):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)

    @staticmethod
    def _value(q: Any, key: str) -> float:
        if key == "qty":
            return float(q.position.qty_base)
        if key == "entry":
            return float(q.position.entry_price)
        return float(q.distance_to_liquidation if key == "distance_to_liquidation" else getattr(q, key))

    def cell(self, key: str, column: int) -> str:
        r = [k for k, _l, _t in DELTA_ROWS].index(key)
        item = self.table.item(r, column)
        return "" if item is None else item.text()

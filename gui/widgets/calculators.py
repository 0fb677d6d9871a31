"""The Calculator tab: what the exchanges' calculators and position sizers offer.

PnL and ROE at an exit price, the exit price for a wanted ROE, the largest size a balance opens,
the average entry over several fills, and the size that risks a percentage of the account at a
stop-loss; each before fees and after both (the workspace's fee rates, docs/domain.md §9.5). The inputs are prefilled from the selected position (side, size, entry, leverage, mark,
wallet) and stay editable; every answer comes from :mod:`core.calculators`, which checks the input
and calls :mod:`core.whatif`. A refused input is marked in place (red frame, the message naming the
field and the allowed range under its section); the other sections keep working and nothing in the
workspace changes.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import calculators as calc
from core import fmt
from core.errors import InvalidInputError
from core.fees import order_fee_rates
from core.model import Side
from core.profiles import Contract
from core.quote import opening_requirement
from gui.session import Session

_ERROR_STYLE: Final = "QLineEdit { border: 2px solid #e5484d; }"
_ERROR_BRUSH: Final = QColor("#f8d7d8")
MAX_FILLS: Final = 50

#: The sections and the input fields each one reads (core field names).
SECTIONS: Final = {
    "pnl": ("side", "qty", "entry", "leverage", "exit_price"),
    "target": ("side", "entry", "leverage", "roe"),
    "max_open": ("balance", "leverage", "price"),
    "risk": ("balance", "risk", "entry", "stop"),
    "average": ("fills",),
}


class QtCalculatorPanel(QWidget):
    """Trader calculators on the selected position's numbers, all computed by ``core``."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._filling = False
        self.fields: dict[str, QLineEdit] = {}
        self.results: dict[str, QLabel] = {}
        self.errors: dict[str, QLabel] = {}
        self.field_errors: dict[str, str] = {}  # field -> message, for the fields now marked

        self.side = QComboBox()
        self.side.setObjectName("calc_side")
        for s in Side:
            self.side.addItem(s.value, s.value)
        common = QGroupBox("Position (from the selected one; edit freely)")
        cf = QGridLayout(common)
        # two rows of two, so that the panel fits a narrow tab pane
        cf.addWidget(QLabel("Side"), 0, 0)
        cf.addWidget(self.side, 0, 1)
        for k, (key, caption) in enumerate((("qty", "Size"), ("entry", "Entry"), ("leverage", "Leverage"))):
            r, c = divmod(k + 1, 2)
            cf.addWidget(QLabel(caption), r, 2 * c)
            cf.addWidget(self._edit(key), r, 2 * c + 1)
        self.from_position = QPushButton("Fill from position")
        self.from_position.setObjectName("calc_from_position")
        cf.addWidget(self.from_position, 2, 0, 1, 4)
        self.fee_note = QLabel()
        self.fee_note.setObjectName("calc_fee_note")
        self.fee_note.setWordWrap(True)
        self.fee_note.setToolTip("The fee rates the net figures use: the profile's, or the workspace's own, for a "
                                 "taker (market) or maker (limit) order as the workspace says.")
        cf.addWidget(self.fee_note, 3, 0, 1, 4)

        pnl = self._section("pnl", "PnL and ROE at an exit price",
                            [("exit_price", "Exit price")], [("pnl", "PnL"), ("roe", "ROE"), ("pnl_margin", "on margin"),
                                                             ("pnl_fees", "Fees (open + close)"),
                                                             ("pnl_net", "Net PnL"), ("roe_net", "Net ROE")])
        target = self._section("target", "Exit price for a wanted ROE",
                               [("roe", "ROE %")], [("target_price", "Exit price"),
                                                    ("target_price_net", "Exit after fees")])
        self.include_fee = QCheckBox("include the taker fee to open")
        self.include_fee.setChecked(True)
        max_open = self._section("max_open", "Max open size for a balance",
                                 [("balance", "Balance"), ("price", "Price")],
                                 [("max_qty", "Size"), ("max_notional", "Notional"), ("max_cost", "Cost")],
                                 extra=self.include_fee)
        risk = self._section("risk", "Size from account risk and a stop-loss",
                             [("risk", "Risk % of balance"), ("stop", "Stop-loss")],
                             [("risk_qty", "Size"), ("risk_side", "Side"), ("risk_notional", "Notional"),
                              ("risk_loss", "Loss at stop"), ("risk_qty_net", "Size after fees")])
        risk_note = QLabel("Uses the balance above and the entry of the position row. \"After fees\": the fee to "
                           "open and the fee to close at the stop count in the loss.")
        risk_note.setWordWrap(True)
        risk.layout().addRow(risk_note)  # type: ignore[union-attr]

        self.fills = QTableWidget(0, 2)
        self.fills.setObjectName("calc_fills")
        self.fills.setHorizontalHeaderLabels(["Price", "Quantity"])
        self.fills.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.fills.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.fills.setMinimumHeight(120)
        self.add_fill = QPushButton("Add fill")
        self.remove_fill = QPushButton("Remove fill")
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_fill)
        buttons.addWidget(self.remove_fill)
        buttons.addStretch(1)
        average = QGroupBox("Average entry over several fills")
        av = QFormLayout(average)
        av.addRow(self.fills)
        av.addRow(buttons)
        for key, caption in (("avg_price", "Average entry"), ("avg_qty", "Total size"), ("avg_notional", "Notional")):
            av.addRow(caption, self._result(key))
        av.addRow(self._error_label("average"))

        inner = QWidget()
        grid = QGridLayout(inner)
        for row, box in enumerate((common, pnl, target, max_open, risk, average)):
            grid.addWidget(box, row, 0)
        grid.setRowStretch(6, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        for edit in self.fields.values():
            edit.textChanged.connect(lambda _t: self.recompute())
        self.side.currentIndexChanged.connect(lambda _i: self.recompute())
        self.include_fee.toggled.connect(lambda _b: self.recompute())
        self.fills.itemChanged.connect(lambda _item: self.recompute())
        self.add_fill.clicked.connect(lambda: self.add_fill_row("", ""))
        self.remove_fill.clicked.connect(self.remove_fill_row)
        self.from_position.clicked.connect(self.fill_from_session)
        session.scenarioChanged.connect(self.fill_from_session)
        session.selectionChanged.connect(lambda _i: self.fill_from_session())
        self.fill_from_session()

    # ------------------------------------------------------------------ building

    def _edit(self, key: str) -> QLineEdit:
        e = QLineEdit()
        e.setObjectName(f"calc_{key}")
        e.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.fields[key] = e
        return e

    def _result(self, key: str) -> QLabel:
        lab = QLabel(fmt.NONE_TEXT)
        lab.setObjectName(f"calc_result_{key}")
        lab.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.results[key] = lab
        return lab

    def _error_label(self, section: str) -> QLabel:
        err = QLabel()
        err.setObjectName(f"calc_error_{section}")
        err.setWordWrap(True)
        err.setStyleSheet("color: #e5484d;")
        self.errors[section] = err
        return err

    def _section(self, section: str, title: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]],
                 extra: QWidget | None = None) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        for key, caption in inputs:
            form.addRow(caption, self._edit(key))
        if extra is not None:
            form.addRow(extra)
        for key, caption in outputs:
            form.addRow(caption, self._result(key))
        form.addRow(self._error_label(section))
        return box

    # ------------------------------------------------------------------ input

    def fill_from_session(self) -> None:
        """Prefill every input from the selected position, its mark and the account's wallet."""
        s = self.session
        p = s.position
        if p is None:
            return
        mark = s.account_for_quote().mark_of(p)
        q = s.position_quote
        self._filling = True
        try:
            self.side.setCurrentIndex(self.side.findData(p.side.value))
            values = {
                "qty": fmt.num(p.qty_base), "entry": fmt.num(p.entry_price), "leverage": fmt.num(p.leverage),
                "exit_price": fmt.num(mark), "roe": "50", "balance": fmt.num(s.account.wallet_usd or (q.margin if q else opening_requirement(s.profile, p))),
                "price": fmt.num(mark), "risk": "1",
                # a stop 5 % on the losing side of the entry
                "stop": fmt.num(p.entry_price * (1 - 0.05 * p.sign)),
            }
            for key, text in values.items():
                self.fields[key].setText(text.replace(",", ""))
            self.fills.setRowCount(0)
            self.add_fill_row(fmt.num(p.entry_price).replace(",", ""), fmt.num(p.qty_base).replace(",", ""))
        finally:
            self._filling = False
        self.recompute()

    def add_fill_row(self, price: str, qty: str) -> None:
        if self.fills.rowCount() >= MAX_FILLS:
            self.errors["average"].setText(f"fills: at most {MAX_FILLS} rows")
            return
        filling, self._filling = self._filling, True
        r = self.fills.rowCount()
        self.fills.insertRow(r)
        self.fills.setItem(r, 0, QTableWidgetItem(price))
        self.fills.setItem(r, 1, QTableWidgetItem(qty))
        self._filling = filling
        self.recompute()

    def remove_fill_row(self) -> None:
        rows = sorted({i.row() for i in self.fills.selectedIndexes()}, reverse=True) or [self.fills.rowCount() - 1]
        for r in rows:
            if r >= 0:
                self.fills.removeRow(r)
        self.recompute()

    def set_fill(self, row: int, price: str, qty: str) -> None:
        """Write one fill (tests and scripted demos); the table recomputes."""
        for col, text in ((0, price), (1, qty)):
            item = self.fills.item(row, col)
            if item is None:
                item = QTableWidgetItem()
                self.fills.setItem(row, col, item)
            item.setText(text)

    # ------------------------------------------------------------------ computing

    def _text(self, key: str) -> str:
        return self.fields[key].text()

    def _max_leverage(self) -> float:
        p = self.session.position
        return self.session.profile.contract(p.symbol).max_leverage if p is not None else 1000.0

    def recompute(self) -> None:
        """Run every calculator on the current inputs; mark the refused fields, never raise."""
        if self._filling:
            return
        self.field_errors.clear()
        side = Side(self.side.currentData())
        p = self.session.position
        f_open, f_close = self.fee_rates()
        # the selected position's contract: an inverse one sizes in contracts and counts in the coin
        contract = None if p is None else self.session.profile.contract(p.symbol)
        self._run("pnl", lambda: self._show_pnl(calc.pnl_and_roe(
            side=side, qty=self._text("qty"), entry=self._text("entry"), exit_price=self._text("exit_price"),
            leverage=self._text("leverage"), max_leverage=self._max_leverage(), open_rate=f_open, close_rate=f_close,
            contract=contract)))
        self._run("target", lambda: self._show_target(side, f_open, f_close, contract))
        if p is not None:
            self._run("max_open", lambda: self._show_max(calc.max_open(
                self.session.profile, p.symbol, balance=self._text("balance"), leverage=self._text("leverage"),
                price=self._text("price"), include_fee=self.include_fee.isChecked())))
        self._run("risk", lambda: self._show_risk(calc.risk_size(
            balance=self._text("balance"), risk_pct=self._text("risk"), entry=self._text("entry"),
            stop=self._text("stop"), open_rate=f_open, close_rate=f_close, contract=contract)))
        self._run("average", self._average)
        self._mark_fields()

    def _run(self, section: str, compute: Callable[[], None]) -> None:
        try:
            compute()
        except InvalidInputError as exc:
            self.errors[section].setText(f"{exc.field}: {exc.reason}")
            self.field_errors.setdefault(exc.field, exc.reason)
            for key in self._outputs(section):
                self._set(key, fmt.NONE_TEXT)
            return
        self.errors[section].setText("")

    @staticmethod
    def _outputs(section: str) -> tuple[str, ...]:
        return {"pnl": ("pnl", "roe", "pnl_margin", "pnl_fees", "pnl_net", "roe_net"),
                "target": ("target_price", "target_price_net"),
                "max_open": ("max_qty", "max_notional", "max_cost"),
                "risk": ("risk_qty", "risk_side", "risk_notional", "risk_loss", "risk_qty_net"),
                "average": ("avg_price", "avg_qty", "avg_notional")}[section]

    def _set(self, key: str, text: str) -> None:
        if self.results[key].text() != text:
            self.results[key].setText(text)

    def _show_pnl(self, r: calc.PnlRoe) -> None:
        money = self.session.money
        self._set("pnl", money(r.pnl + 0.0))
        self._set("roe", fmt.pct(r.roe))
        self._set("pnl_margin", money(r.margin))
        self._set("pnl_fees", money(r.fees))
        self._set("pnl_net", money(r.net_pnl + 0.0))
        self._set("roe_net", fmt.pct(r.net_roe))

    def fee_rates(self) -> tuple[float, float]:
        """(open, close) fee rates of the workspace (:func:`core.fees.order_fee_rates`), shown in the note."""
        s = self.session
        f_open, f_close = order_fee_rates(s.profile, s.account.fees)
        fees = s.account.fees
        note = (f"Net figures: fee to open {fmt.pct(f_open, 3)} ({fees.open.value}), to close "
                f"{fmt.pct(f_close, 3)} ({fees.close.value})")
        if self.fee_note.text() != note:
            self.fee_note.setText(note)
        return f_open, f_close

    def _show_target(self, side: Side, f_open: float, f_close: float, contract: Contract | None) -> None:
        tick = self.session.tick
        entry, lev, roe, top = self._text("entry"), self._text("leverage"), self._text("roe"), self._max_leverage()
        self._set("target_price", fmt.price(calc.target_price(side=side, entry=entry, leverage=lev, roe_pct=roe,
                                                              max_leverage=top, contract=contract), tick))
        self._set("target_price_net", fmt.price(calc.target_price_net(
            side=side, entry=entry, leverage=lev, roe_pct=roe, open_rate=f_open, close_rate=f_close,
            max_leverage=top, contract=contract), tick))

    def _show_max(self, m: calc.MaxOpen) -> None:
        self._set("max_qty", fmt.num(m.qty))
        self._set("max_notional", self.session.money(m.notional))
        self._set("max_cost", self.session.money(m.cost))

    def _show_risk(self, r: calc.RiskSize) -> None:
        self._set("risk_qty", fmt.num(round(r.qty, 8)))
        self._set("risk_side", r.side.value)
        self._set("risk_notional", self.session.money(r.notional))
        self._set("risk_loss", self.session.money(r.loss_at_stop))
        self._set("risk_qty_net", fmt.num(round(r.qty_net, 8)))

    def _average(self) -> None:
        prices = [self._cell(r, 0) for r in range(self.fills.rowCount())]
        qtys = [self._cell(r, 1) for r in range(self.fills.rowCount())]
        p = self.session.position
        a = calc.average_entry(prices, qtys, contract=None if p is None else self.session.profile.contract(p.symbol))
        self._set("avg_price", fmt.price(a.price, self.session.tick))
        self._set("avg_qty", fmt.num(a.qty))
        self._set("avg_notional", fmt.money(a.notional))

    def _cell(self, row: int, col: int) -> str:
        item = self.fills.item(row, col)
        return "" if item is None else item.text()

    def _mark_fields(self) -> None:
        for key, edit in self.fields.items():
            msg = self.field_errors.get(key)
            style = _ERROR_STYLE if msg else ""
            if edit.styleSheet() != style:
                edit.setStyleSheet(style)
            edit.setToolTip(f"{key}: {msg}" if msg else "")
            edit.setProperty("invalid", bool(msg))
        # fills[i].price / fills[i].qty: shade the refused cell
        self.fills.blockSignals(True)
        try:
            for r in range(self.fills.rowCount()):
                for c, name in ((0, "price"), (1, "qty")):
                    item = self.fills.item(r, c)
                    if item is None:
                        continue
                    bad = f"fills[{r}].{name}" in self.field_errors
                    item.setBackground(_ERROR_BRUSH if bad else QColor(0, 0, 0, 0))
                    item.setToolTip(self.field_errors.get(f"fills[{r}].{name}", ""))
        finally:
            self.fills.blockSignals(False)

    # ------------------------------------------------------------------ reading (tests)

    def result(self, key: str) -> str:
        return self.results[key].text()

    def error(self, section: str) -> str:
        return self.errors[section].text()

    def is_marked(self, field: str) -> bool:
        """True when ``field`` (a core field name, ``fills[1].qty`` too) is marked as refused."""
        return field in self.field_errors

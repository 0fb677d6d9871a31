"""The form for the selected position and the account around it.

Every change goes to the session as an edit (an undoable command). A refused value stays visible in
its field, marked red with the session's message (which names the allowed range), and nothing is
applied; the next accepted edit or an undo clears the mark.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from core.errors import InvalidInputError
from core.margin import quote_value
from core.model import MarginMode, Side
from core.profiles import Contract, Profile, listed_max_leverage
from core.quote import entry_notional
from core.symbols import base_asset, search_symbols
from core.validate import MAX_AMOUNT, MAX_PRICE
from gui.session import Session
from gui.widgets.tips import TIPS

_ERROR_STYLE = "border: 1px solid #e5484d;"
MIN_FIELD_PX: Final = 90


def _spin(decimals: int, lo: float, hi: float, suffix: str = "", step: float = 1.0) -> QDoubleSpinBox:
    w = QDoubleSpinBox()
    w.setDecimals(decimals)
    w.setRange(lo, hi)
    w.setSingleStep(step)
    w.setKeyboardTracking(False)  # commit on Enter, focus-out or an arrow step, not on every keystroke
    w.setGroupSeparatorShown(True)
    w.setAccelerated(True)
    if suffix:
        w.setSuffix(suffix)
    w.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.UpDownArrows)
    # the range (up to 1e18) would make the field as wide as its largest value: the form must fit
    # a 1024 px window, and a number longer than the field scrolls inside it
    w.setMinimumWidth(MIN_FIELD_PX)
    return w


def _narrow(combo: QComboBox, chars: int = 10) -> QComboBox:
    """A combo box as narrow as ``chars`` characters allow (long exchange names are elided, and
    shown whole in the list and the tooltip)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    return combo


def _set_items(combo: QComboBox, items: list[str]) -> None:
    """Give ``combo`` these items, leaving it alone when it has them already.

    The form refreshes after every edit; refilling an unchanged combo box would reset its model and
    re-lay out and repaint the form each time.
    """
    if [combo.itemText(i) for i in range(combo.count())] != items:
        combo.clear()
        combo.addItems(items)


def _set_value(spin: QDoubleSpinBox, value: float) -> None:
    """Show ``value`` in ``spin``; Qt repaints a spin box on every setValue, even an unchanged one."""
    if spin.value() != round(value, spin.decimals()):
        spin.setValue(value)


class QtPositionForm(QWidget):
    """Profile, symbol, side, size or notional, entry, leverage, mode, margin or wallet, mark."""

    heightWanted = Signal(int)  # a message appeared or went: the height the form needs now

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._updating = False
        self.errors: dict[str, QLabel] = {}
        self.fields: dict[str, QWidget] = {}

        self.profile = _narrow(QComboBox(), 10)
        for p in sorted(session.profiles, key=lambda p: p.name):
            self.profile.addItem(p.name, p.id)
        self.symbol = _narrow(QComboBox(), 10)
        # Hundreds of contracts: type part of a name ("sol") and pick from what core.symbols finds.
        self.symbol.setEditable(True)
        self.symbol.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.symbol.setMaxVisibleItems(20)
        self._symbol_model = QStringListModel(self)
        completer = QCompleter(self._symbol_model, self)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setMaxVisibleItems(15)
        self.symbol.setCompleter(completer)
        self._listed: Profile | None = None
        self.side = _narrow(QComboBox(), 10)
        self.side.addItem("Long", Side.LONG.value)
        self.side.addItem("Short", Side.SHORT.value)
        # base units (linear) or contracts (inverse), or the value in the quote currency
        self.size_field = _spin(6, 0.0, MAX_AMOUNT, step=0.1)
        self.size_unit = _narrow(QComboBox(), 4)
        self.size_unit.setToolTip("Enter the size in the base asset (an inverse contract: in contracts) or as its "
                                  "value in the quote currency.")
        self.contract_info = QLabel()
        self.contract_info.setObjectName("contractInfo")
        self.contract_info.setWordWrap(True)
        self.entry = _spin(2, 0.0, MAX_PRICE, step=100.0)
        self.leverage = _spin(2, 0.0, 1000.0, "x", 1.0)
        self.leverage_hint = QLabel()
        self.leverage_hint.setObjectName("leverageHint")
        self.mode = _narrow(QComboBox(), 10)
        self.mode.addItem("Isolated", MarginMode.ISOLATED.value)
        self.mode.addItem("Cross", MarginMode.CROSS.value)
        self.margin = _spin(2, 0.0, MAX_AMOUNT, step=100.0)
        self.margin.setSpecialValueText("opening requirement")
        self.wallet = _spin(2, 0.0, MAX_AMOUNT, step=1000.0)
        self.mark = _spin(2, 0.0, MAX_PRICE, step=100.0)
        self.stop_loss = _spin(2, 0.0, MAX_PRICE, step=100.0)
        self.stop_loss.setSpecialValueText("none")
        self.take_profit = _spin(2, 0.0, MAX_PRICE, step=100.0)
        self.take_profit.setSpecialValueText("none")

        size_row = QHBoxLayout()
        size_row.setContentsMargins(0, 0, 0, 0)
        size_row.addWidget(self.size_field, 1)
        size_row.addWidget(self.size_unit)
        size_w = QWidget()
        size_w.setLayout(size_row)
        lev_row = QHBoxLayout()
        lev_row.setContentsMargins(0, 0, 0, 0)
        lev_row.addWidget(self.leverage, 1)
        lev_row.addWidget(self.leverage_hint)
        lev_w = QWidget()
        lev_w.setLayout(lev_row)

        box = QGroupBox("Position")
        form = QFormLayout(box)
        form.setVerticalSpacing(2)
        rows: list[tuple[str, str, QWidget, QWidget]] = [
            ("profile", "Exchange", self.profile, self.profile),
            ("symbol", "Symbol", self.symbol, self.symbol),
            ("contract", "Contract", self.contract_info, self.contract_info),
            ("side", "Side", self.side, self.side),
            ("qty", "Size", size_w, self.size_field),
            ("entry", "Entry", self.entry, self.entry),
            ("leverage", "Leverage", lev_w, self.leverage),
            ("mode", "Margin mode", self.mode, self.mode),
            ("margin", "Isolated margin", self.margin, self.margin),
            ("wallet", "Wallet (excl. isolated)", self.wallet, self.wallet),
            ("mark", "Start mark", self.mark, self.mark),
            ("stop_loss", "Stop-loss", self.stop_loss, self.stop_loss),
            ("take_profit", "Take-profit", self.take_profit, self.take_profit),
        ]
        for key, caption, container, field in rows:
            err = QLabel()
            err.setObjectName(f"error_{key}")
            err.setWordWrap(True)
            err.setStyleSheet("color: #e5484d;")
            err.setVisible(False)
            holder = QWidget()
            v = QVBoxLayout(holder)
            v.setContentsMargins(0, 0, 0, 0)
            v.setSpacing(1)
            v.addWidget(container)
            v.addWidget(err)
            cap = QLabel(caption)
            tip = TIPS.get(key, "")
            cap.setToolTip(tip)
            field.setToolTip(tip)
            form.addRow(cap, holder)
            self.errors[key] = err
            self.fields[key] = field

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)

        self.profile.currentIndexChanged.connect(lambda _i: self._commit("profile", lambda: session.set_profile(self.profile.currentData())))
        self.symbol.currentIndexChanged.connect(self._symbol_chosen)
        line = self.symbol.lineEdit()
        assert line is not None
        line.textEdited.connect(self._symbol_typed)
        completer.activated.connect(self._symbol_picked)
        self.side.currentIndexChanged.connect(lambda _i: self._edit("side", side=self.side.currentData()))
        self.size_field.valueChanged.connect(self._size_changed)
        self.size_unit.currentIndexChanged.connect(lambda _i: self.refresh())
        self.entry.valueChanged.connect(lambda v: self._edit("entry", entry=v))
        self.leverage.valueChanged.connect(lambda v: self._edit("leverage", leverage=v))
        self.mode.currentIndexChanged.connect(lambda _i: self._edit("mode", mode=self.mode.currentData()))
        self.margin.valueChanged.connect(lambda v: self._edit("margin", margin=None if v == 0 else v))
        self.wallet.valueChanged.connect(lambda v: self._commit("wallet", lambda: session.set_wallet(v)))
        self.mark.valueChanged.connect(self._mark_changed)
        self.stop_loss.valueChanged.connect(
            lambda v: self._commit("stop_loss", lambda: session.set_order("stop_loss", v or None)))
        self.take_profit.valueChanged.connect(
            lambda v: self._commit("take_profit", lambda: session.set_order("take_profit", v or None)))

        session.scenarioChanged.connect(self.refresh)
        session.selectionChanged.connect(lambda _i: self.refresh())
        self.refresh()

    # ------------------------------------------------------------------ commits

    def _size_changed(self, v: float) -> None:
        if self.size_unit.currentIndex() == 1:
            self._edit("qty", notional=v)
        else:
            self._edit("qty", qty=v)

    def _mark_changed(self, v: float) -> None:
        sym = self.session.chart_symbol
        if sym is not None:
            self._commit("mark", lambda: self.session.set_mark(sym, v))

    def _edit(self, key: str, **changes: Any) -> None:
        self._commit(key, lambda: self.session.edit_position(self.session.selected, **changes))

    def _commit(self, key: str, action: Callable[[], None]) -> None:
        if self._updating:
            return
        try:
            action()
        except InvalidInputError as exc:
            self.show_error(self._field_key(exc.field, key), exc.reason)
            return
        self.clear_errors()

    @staticmethod
    def _field_key(field: str, fallback: str) -> str:
        last = field.split(".")[-1] if not field.startswith("marks") else "mark"
        last = {"exchange": "profile", "notional": "qty", "qty_base": "qty", "margin_usd": "margin",
                "entry_price": "entry", "amount": fallback}.get(last, last)
        return last if last in ("profile", "symbol", "side", "qty", "entry", "leverage", "mode", "margin",
                                "wallet", "mark", "stop_loss", "take_profit") else fallback

    def show_error(self, key: str, message: str) -> None:
        self.clear_errors()
        self.errors[key].setText(message)
        self.errors[key].setVisible(True)
        self.fields[key].setStyleSheet(_ERROR_STYLE)
        self.updateGeometry()
        self.heightWanted.emit(self.sizeHint().height())  # the message is read whole, never cut

    def clear_errors(self) -> None:
        for key, err in self.errors.items():
            if err.isVisible():
                err.setVisible(False)
                err.setText("")
                self.fields[key].setStyleSheet("")
                self.updateGeometry()
                self.heightWanted.emit(self.sizeHint().height())

    def error_text(self, key: str) -> str:
        return self.errors[key].text() if self.errors[key].isVisible() or self.errors[key].text() else ""

    # ------------------------------------------------------------------ refresh from the session

    # ------------------------------------------------------------------ the symbol field

    def symbol_entry(self, profile: Profile, symbol: str) -> str:
        """How a contract is listed: its name and the highest leverage it allows."""
        lev = listed_max_leverage(profile, symbol)
        return symbol if lev is None else f"{symbol}  ·  up to {fmt.num(lev)}x"

    def _list_symbols(self, profile: Profile) -> None:
        if profile is self._listed:
            return  # hundreds of entries: rebuilt only when the profile changes
        self._listed = profile
        self.symbol.blockSignals(True)
        self.symbol.clear()
        for sym in profile.symbols:
            self.symbol.addItem(self.symbol_entry(profile, sym), sym)
        self.symbol.blockSignals(False)
        self._symbol_typed("")

    def _symbol_typed(self, text: str) -> None:
        profile = self.session.profile
        self._symbol_model.setStringList([self.symbol_entry(profile, s) for s in search_symbols(profile, text)])

    def _symbol_picked(self, entry: str) -> None:
        i = self.symbol.findText(entry)
        if i >= 0:
            self.symbol.setCurrentIndex(i)

    def _symbol_chosen(self, _index: int) -> None:
        symbol = self.symbol.currentData()
        if symbol is not None:
            self._edit("symbol", symbol=symbol)

    def _show_contract(self, contract: Contract, qty: float, entry: float) -> None:
        """The contract's type and units, the size unit choices, and the size in the chosen unit.

        A linear contract's size is in its base asset (or the notional in the quote currency at the
        entry); an inverse contract's in contracts (or their value, contracts x contract size, in the
        quote currency: :func:`core.margin.quote_value`). Margin and PnL are in the settlement asset.
        """
        value = float(quote_value(contract, qty, entry))
        if contract.is_inverse:
            units = ["contracts", contract.quote]
            # one short line (the form is narrow at 1024 px); the tooltip says it whole
            info = f"inverse, {fmt.num(contract.size)} {contract.quote} each, in {contract.settle}"
            whole = (f"an inverse contract of {fmt.num(contract.size)} {contract.quote} each: the size is in "
                     f"contracts, margin, wallet and PnL are in {contract.settle}")
            tip = f"{fmt.num(qty)} contracts x {fmt.num(contract.size)} {contract.quote} = {fmt.num(value)} {contract.quote}"
        else:
            units = [base_asset(contract.symbol), contract.quote]
            info = f"linear, in {contract.settle}"
            whole = (f"a linear contract: the size is in {units[0]}, margin, wallet and PnL are in "
                     f"{contract.settle}")
            tip = f"{fmt.num(qty)} {units[0]} x {fmt.num(entry)} = {fmt.num(value)} {contract.quote} at the entry"
        if self.contract_info.text() != info:
            self.contract_info.setText(info)
            self.contract_info.setToolTip(f"{contract.symbol}: {whole}; prices are in {contract.quote}.")
        unit = self.size_unit.currentIndex()
        self.size_unit.blockSignals(True)
        _set_items(self.size_unit, units)
        self.size_unit.setMinimumContentsLength(max(4, len(units[0])))
        self.size_unit.setCurrentIndex(max(unit, 0))
        self.size_unit.blockSignals(False)
        # contracts in whole lots (BTCUSD_PERP: 1), a value to the cent, base units to 6 decimals
        in_value = self.size_unit.currentIndex() == 1
        decimals = 2 if in_value else (max(0, -math.floor(math.log10(contract.lot_size) + 1e-9))
                                      if contract.is_inverse else 6)
        if self.size_field.decimals() != decimals:
            self.size_field.setDecimals(decimals)
        _set_value(self.size_field, value if in_value else qty)
        self.size_field.setToolTip(f"{TIPS['qty']}\n\n{tip}")

    def refresh(self) -> None:
        s = self.session
        p = s.position
        self._updating = True
        try:
            self.clear_errors()
            self.profile.setCurrentIndex(self.profile.findData(s.scenario.exchange))
            self._list_symbols(s.profile)
            if p is None:
                return
            contract = s.profile.contract(p.symbol)
            decimals = max(0, -math.floor(math.log10(contract.tick_size) + 1e-9))
            for w in (self.entry, self.mark):
                if w.decimals() != max(decimals, 2):  # re-formats and repaints the field
                    w.setDecimals(max(decimals, 2))
            if self.symbol.currentData() != p.symbol:
                self.symbol.setCurrentIndex(self.symbol.findData(p.symbol))
            self.side.setCurrentIndex(self.side.findData(p.side.value))
            self._show_contract(contract, p.qty_base, p.entry_price)
            _set_value(self.entry, p.entry_price)
            _set_value(self.leverage, p.leverage)
            max_lev, k = s.max_leverage()
            self.leverage_hint.setText(f"max {fmt.num(max_lev)}x")
            self.leverage_hint.setToolTip(
                f"At {s.money(entry_notional(s.profile, p), unit=True)} of notional at the entry the position is in "
                f"tier {k + 1}, which allows up to {fmt.num(max_lev)}x (at most the tier's maximum, and below 1/MMR "
                "so that the initial margin exceeds the maintenance margin).")
            self.mode.setCurrentIndex(self.mode.findData(p.mode.value))
            self.margin.setEnabled(p.mode is MarginMode.ISOLATED)
            settle = s.settle_ccy
            for w in (self.margin, self.wallet):  # amounts in the settlement asset: 0.05 BTC, 2,000.00 USDT
                if w.suffix() != f" {settle}":
                    w.setSuffix(f" {settle}")
                    w.setDecimals(fmt.asset_decimals(settle))
            _set_value(self.margin, 0.0 if p.margin_usd is None else p.margin_usd)
            _set_value(self.wallet, s.account.wallet_usd)
            _set_value(self.mark, s.account.mark_of(p))
            orders = s.orders()
            _set_value(self.stop_loss, orders.get("stop_loss", 0.0))
            _set_value(self.take_profit, orders.get("take_profit", 0.0))
        finally:
            self._updating = False

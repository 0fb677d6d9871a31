"""All positions of the account, for cross margin: one row each, the selected one feeds the form.

The account's position mode is chosen here (one-way: one position per symbol; hedge: a long and a
short per symbol, each a row with its side). Cross legs of one symbol share one liquidation price
(``PositionQuote.shares_lp_with``, solved jointly by core): both rows show it, and a note under the
table says they share it. Add appends what :meth:`gui.session.Session.new_position` decides for the
mode (the other leg of the selected symbol in hedge mode, else the next contract not held).
"""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from core.errors import InvalidInputError
from core.margin import quote_value
from core.model import PositionMode
from core.quote import PositionQuote
from core.symbols import base_asset
from gui.session import Session

COLUMNS = ("Symbol", "Side", "Size", "Entry", "Lev.", "Mode", "Liq. price", "Exch. LP")
#: The column of the exchange's own liquidation price: shown for a workspace imported from an exchange.
EXCHANGE_COLUMN = COLUMNS.index("Exch. LP")
MATCH_MARK = "✓"
DIFFER_MARK = "⚠"


class QtPositionTable(QWidget):
    """The account's positions with Add and Remove, and the account's position mode."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._updating = False
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        # every column as wide as its text but the symbol's, which takes what is left and is elided
        # first (BTCUSD_PERP is long): the liquidation price, the column that matters, stays whole
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Positions of the account; cross positions share the wallet, so each one's "
                              "liquidation price depends on the others.")
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.horizontalHeaderItem(EXCHANGE_COLUMN).setToolTip(  # type: ignore[union-attr]
            "The liquidation price the exchange reported when the positions were imported, and whether "
            "MarginLab's matches it (✓ within one tick, ⚠ otherwise: the tooltip says why).")
        self.table.setColumnHidden(EXCHANGE_COLUMN, True)
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add a position. Hedge mode: the other leg of the selected symbol (same size, "
                                   "at its start mark). One-way mode, or both legs held: a copy of the selected "
                                   "position on the next contract the account does not hold.")
        self.add_button.clicked.connect(lambda: self._run(session.add_position))
        self.mode_combo = QComboBox()
        self.mode_combo.setObjectName("positionMode")
        self.mode_combo.addItem("One-way", PositionMode.ONE_WAY.value)
        self.mode_combo.addItem("Hedge", PositionMode.HEDGE.value)
        self.mode_combo.setToolTip("Position mode. One-way: one position per symbol (a buy against a short "
                                   "reduces it). Hedge: a long and a short on the same symbol at once; in cross "
                                   "margin both legs share one liquidation price.")
        self.mode_combo.currentIndexChanged.connect(self._mode_chosen)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected position from the account.")
        self.remove_button.clicked.connect(lambda: self._run(session.remove_position))
        self.account_label = QLabel()
        self.account_label.setWordWrap(True)
        self.message = QLabel()
        self.message.setObjectName("accountMessage")
        self.message.setStyleSheet("color: #e5484d;")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.note = QLabel()  # what Add did; which legs share a liquidation price
        self.note.setObjectName("accountNote")
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        self._added = ("", -1)  # what Add did, while the undo stack stays where the add left it

        box = QGroupBox("Account")
        v = QVBoxLayout(box)
        v.setContentsMargins(4, 4, 4, 4)
        v.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        row.addWidget(QLabel("Mode"))
        row.addWidget(self.mode_combo)
        v.addLayout(row)
        v.addWidget(self.account_label)
        v.addWidget(self.note)
        v.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)

        session.resultsChanged.connect(self.refresh)  # also follows every scenario change
        session.selectionChanged.connect(lambda _i: self.refresh())
        self.refresh()

    def _run(self, action: object) -> None:
        try:
            result = action()  # type: ignore[operator]
        except InvalidInputError as exc:
            self.show_message(exc)
            return
        self.message.setVisible(False)
        self._added = (result if isinstance(result, str) else "", self.session.undo_stack.index())
        self._show_note()

    def show_message(self, exc: InvalidInputError) -> None:
        """A refused action: core's message, naming the field (position mode, positions)."""
        field = exc.field.replace("_", " ")
        self.message.setText(f"{field}: {exc.reason}")
        self.message.setVisible(True)

    def _mode_chosen(self, _index: int) -> None:
        if self._updating:
            return
        self._run(lambda: self.session.set_position_mode(self.mode_combo.currentData()))
        self._updating = True
        try:  # a refused mode: the combo goes back to the account's
            self.mode_combo.setCurrentIndex(self.mode_combo.findData(self.session.account.position_mode.value))
        finally:
            self._updating = False

    def _on_selection(self) -> None:
        if self._updating:
            return
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.session.select(rows[0].row())

    def exchange_cell(self, row: int) -> tuple[str, str]:
        """(text, tooltip) of the exchange-LP cell of ``row``: core.audit's verdict, shown."""
        s = self.session
        audits = s.position_audits()
        a = audits.get(row)
        if a is None:
            return "", ("Changed since the import: there is no exchange figure for this position as it is now."
                        if s.scenario.audit is not None else "")
        tick = a.tick
        mark = MATCH_MARK if a.verdict.code == "match" else DIFFER_MARK
        text = f"{fmt.price(a.reported.liquidation_price, tick)} {mark}"
        tip = f"Exchange {fmt.price(a.reported.liquidation_price, tick)}, MarginLab {fmt.price(a.ours, tick)}"
        if math.isfinite(a.difference):
            tip += f", difference {fmt.price(a.difference, tick)} ({a.difference_bp:+.2f} bp)"
        return text, f"{tip}.\n{a.verdict.text}"

    def _fill_exchange_column(self) -> None:
        imported = self.session.scenario.audit is not None
        self.table.setColumnHidden(EXCHANGE_COLUMN, not imported)
        if not imported:
            return
        for r in range(self.table.rowCount()):
            text, tip = self.exchange_cell(r)
            item = self.table.item(r, EXCHANGE_COLUMN)
            if item is None:
                item = QTableWidgetItem()
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, EXCHANGE_COLUMN, item)
            if item.text() != text:
                item.setText(text)
            if item.toolTip() != tip:
                item.setToolTip(tip)

    def refresh(self) -> None:
        s = self.session
        positions = s.account.positions
        quotes = s.quote.positions if s.quote is not None else ()
        audits = s.position_audits() if s.scenario.audit is not None else {}
        self._updating = True
        try:
            self.mode_combo.setCurrentIndex(self.mode_combo.findData(s.account.position_mode.value))
            self.table.setRowCount(len(positions))
            for r, p in enumerate(positions):
                contract = s.profile.contract(p.symbol)
                tick = contract.tick_size
                q = quotes[r] if r < len(quotes) else None
                fill = s.live.fill_of(r)
                liq = ("liquidated" if s.live.is_liquidated(r) else
                       f"closed ({'stop-loss' if fill.kind == 'stop_loss' else 'take-profit'})" if fill is not None else
                       fmt.price(None if q is None else q.liquidation_price, tick))
                lev_text, lev_tip = f"{fmt.num(p.leverage)}x", ""
                row_audit = audits.get(r)
                if row_audit is not None and row_audit.reported.leverage is not None:
                    # core.audit lowered the exchange's leverage to what this profile's table allows
                    lev_text += "*"
                    lev_tip = (f"The exchange reports {fmt.num(row_audit.reported.leverage)}x; the {s.profile.name} "
                               f"table (as of {s.profile.as_of}) allows at most {fmt.num(p.leverage)}x at this "
                               "size. Only the initial margin differs.")
                cells = (p.symbol, p.side.value, fmt.num(p.qty_base), fmt.price(p.entry_price, tick),
                         lev_text, p.mode.value, liq)
                value = float(quote_value(contract, p.qty_base, p.entry_price))
                size_tip = (f"{fmt.num(p.qty_base)} contracts of {fmt.num(contract.size)} {contract.quote} = "
                            f"{fmt.num(value)} {contract.quote}" if contract.is_inverse else
                            f"{fmt.num(p.qty_base)} {base_asset(p.symbol)} = {fmt.num(value)} {contract.quote} "
                            "at the entry")
                tips = {2: size_tip, 4: lev_tip, 6: self._lp_tip(r, q)}
                for c, text in enumerate(cells):
                    item = self.table.item(r, c)
                    if item is None:
                        item = QTableWidgetItem()
                        self.table.setItem(r, c, item)
                    item.setText(text)
                    item.setToolTip(tips.get(c, ""))
                    if c >= 2:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._fill_exchange_column()
            if positions:
                self.table.selectRow(s.selected)
            self.remove_button.setEnabled(len(positions) > 1)
            aq = s.quote
            if aq is None:
                self.account_label.setText(f"Wallet (excl. isolated) {s.money(s.account.wallet_usd, unit=True)}")
            else:
                text = (f"Wallet balance {s.money(aq.wallet_balance, unit=True)} = wallet {s.money(s.account.wallet_usd)} "
                        f"+ isolated margins {s.money(aq.isolated_margins)}")
                if any(p.mode.value == "cross" for p in positions):
                    text += (f" · cross equity {s.money(aq.cross_equity)}, MM {s.money(aq.cross_maintenance)}, "
                             f"ratio {fmt.pct(aq.cross_margin_ratio)}")
                tip = ("Wallet balance, as exchanges show it: the wallet (the cross collateral, where new margin "
                       "comes from) plus the margins held by isolated positions.")
                audit = s.scenario.audit
                if audit is not None and audit.left_out:
                    n = len(audit.left_out)
                    text += f" · {n} imported position{'s' * (n != 1)} left out"
                    tip += "\nLeft out of the import: " + "; ".join(
                        f"{x.side} {x.symbol} ({x.reason.replace('_', ' ')})" for x in audit.left_out)
                self.account_label.setText(text)
                self.account_label.setToolTip(tip)
            self._show_note()
        finally:
            self._updating = False

    def _lp_tip(self, r: int, q: PositionQuote | None) -> str:
        if q is None or not q.shares_lp_with:
            return ""
        others = ", ".join(f"#{j + 1}" for j in q.shares_lp_with)
        return (f"One liquidation price for every cross leg of {q.position.symbol} (with {others}): both legs move "
                "with the one mark, so core solves the account's equity = maintenance margin for them together.")

    def shared_lp_notes(self) -> list[str]:
        """One sentence per symbol whose cross legs share a liquidation price (from the quote)."""
        s = self.session
        if s.quote is None:
            return []
        out, seen = [], set()
        for i, q in enumerate(s.quote.positions):
            group = tuple(sorted((i, *q.shares_lp_with)))
            if not q.shares_lp_with or group in seen:
                continue
            seen.add(group)
            legs = " and ".join(f"#{j + 1} {s.quote.positions[j].position.side.value}" for j in group)
            tick = s.profile.contract(q.position.symbol).tick_size
            out.append(f"{q.position.symbol}: the cross legs {legs} share one liquidation price, "
                       f"{fmt.price(q.liquidation_price, tick)}.")
        return out

    def _show_note(self) -> None:
        added, at = self._added
        lines = ([added] if added and at == self.session.undo_stack.index() else []) + self.shared_lp_notes()
        text = "\n".join(lines)
        if self.note.text() != text:
            self.note.setText(text)
            self.note.setVisible(bool(text))

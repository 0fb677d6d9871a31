"""All positions of the account, for cross margin: one row each, the selected one feeds the form."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
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
from gui.session import Session

COLUMNS = ("Symbol", "Side", "Size", "Entry", "Lev.", "Mode", "Liq. price", "Exch. LP")
#: The column of the exchange's own liquidation price: shown for a workspace imported from an exchange.
EXCHANGE_COLUMN = COLUMNS.index("Exch. LP")
MATCH_MARK = "✓"
DIFFER_MARK = "⚠"


class QtPositionTable(QWidget):
    """The account's positions with Add (a copy of the selected one) and Remove."""

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
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("Positions of the account; cross positions share the wallet, so each one's "
                              "liquidation price depends on the others.")
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.horizontalHeaderItem(EXCHANGE_COLUMN).setToolTip(  # type: ignore[union-attr]
            "The liquidation price the exchange reported when the positions were imported, and whether "
            "MarginLab's matches it (✓ within one tick, ⚠ otherwise: the tooltip says why).")
        self.table.setColumnHidden(EXCHANGE_COLUMN, True)
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add a position (a copy of the selected one) to the account.")
        self.add_button.clicked.connect(lambda: self._run(session.add_position))
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected position from the account.")
        self.remove_button.clicked.connect(lambda: self._run(session.remove_position))
        self.account_label = QLabel()
        self.account_label.setWordWrap(True)
        self.message = QLabel()
        self.message.setStyleSheet("color: #e5484d;")
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        box = QGroupBox("Account")
        v = QVBoxLayout(box)
        v.setContentsMargins(4, 4, 4, 4)
        v.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        v.addLayout(row)
        v.addWidget(self.account_label)
        v.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)

        session.resultsChanged.connect(self.refresh)  # also follows every scenario change
        session.selectionChanged.connect(lambda _i: self.refresh())
        self.refresh()

    def _run(self, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except InvalidInputError as exc:
            self.message.setText(exc.reason)
            self.message.setVisible(True)
            return
        self.message.setVisible(False)

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
            self.table.setRowCount(len(positions))
            for r, p in enumerate(positions):
                tick = s.profile.contract(p.symbol).tick_size
                lp = quotes[r].liquidation_price if r < len(quotes) else None
                fill = s.live.fill_of(r)
                liq = ("liquidated" if s.live.is_liquidated(r) else
                       f"closed ({'stop-loss' if fill.kind == 'stop_loss' else 'take-profit'})" if fill is not None else
                       fmt.price(lp, tick))
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
                for c, text in enumerate(cells):
                    item = self.table.item(r, c)
                    if item is None:
                        item = QTableWidgetItem()
                        self.table.setItem(r, c, item)
                    item.setText(text)
                    item.setToolTip(lev_tip if c == 4 else "")
                    if c >= 2:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._fill_exchange_column()
            if positions:
                self.table.selectRow(s.selected)
            self.remove_button.setEnabled(len(positions) > 1)
            q = s.quote
            if q is None:
                self.account_label.setText(f"Wallet (excl. isolated) {fmt.money(s.account.wallet_usd)}")
            else:
                text = (f"Wallet balance {fmt.money(q.wallet_balance)} = wallet {fmt.money(s.account.wallet_usd)} "
                        f"+ isolated margins {fmt.money(q.isolated_margins)}")
                if any(p.mode.value == "cross" for p in positions):
                    text += (f" · cross equity {fmt.money(q.cross_equity)}, MM {fmt.money(q.cross_maintenance)}, "
                             f"ratio {fmt.pct(q.cross_margin_ratio)}")
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
        finally:
            self._updating = False

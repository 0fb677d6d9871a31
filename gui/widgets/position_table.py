"""All positions of the account, for cross margin: one row each, the selected one feeds the form."""
from __future__ import annotations

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

COLUMNS = ("Symbol", "Side", "Size", "Entry", "Lev.", "Mode", "Liq. price")


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

    def refresh(self) -> None:
        s = self.session
        positions = s.account.positions
        quotes = s.quote.positions if s.quote is not None else ()
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
                cells = (p.symbol, p.side.value, fmt.num(p.qty_base), fmt.price(p.entry_price, tick),
                         f"{fmt.num(p.leverage)}x", p.mode.value, liq)
                for c, text in enumerate(cells):
                    item = self.table.item(r, c)
                    if item is None:
                        item = QTableWidgetItem()
                        self.table.setItem(r, c, item)
                    item.setText(text)
                    if c >= 2:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if positions:
                self.table.selectRow(s.selected)
            self.remove_button.setEnabled(len(positions) > 1)
            q = s.quote
            if q is None:
                self.account_label.setText(f"Wallet (excl. isolated) {s.money(s.account.wallet_usd, unit=True)}")
            else:
                text = (f"Wallet balance {s.money(q.wallet_balance, unit=True)} = wallet {s.money(s.account.wallet_usd)} "
                        f"+ isolated margins {s.money(q.isolated_margins)}")
                if any(p.mode.value == "cross" for p in positions):
                    text += (f" · cross equity {s.money(q.cross_equity)}, MM {s.money(q.cross_maintenance)}, "
                             f"ratio {fmt.pct(q.cross_margin_ratio)}")
                self.account_label.setText(text)
                self.account_label.setToolTip(
                    "Wallet balance, as exchanges show it: the wallet (the cross collateral, where new margin "
                    "comes from) plus the margins held by isolated positions.")
        finally:
            self._updating = False

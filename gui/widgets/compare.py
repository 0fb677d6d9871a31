"""The Compare tab: the selected position under every profile, side by side, and why they differ.

Every number comes from :func:`core.compare.compare_in_account` (the position as it is in its
account, the whole account moved to each profile and quoted as the results quote it) and every
sentence from :func:`core.compare.explain_differences`, with the workspace's own profile as the
reference, at the streamed mark. A cross position that shares the wallet with other cross
positions gets one more column, labelled "alone": the same position by itself on the wallet
(what ``marginlab-cli compare --wallet`` prints).

Updates follow the session's signals; bursts (the feed moves the mark sixty times a second) are
collapsed by a single-shot timer, so the table is recomputed at most every :data:`THROTTLE_MS`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListWidget,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from core.compare import ComparisonRow, compare_in_account, compare_position, explain_differences
from core.model import MarginMode, Position
from core.profiles import stale_notice
from gui.session import Session
from gui.widgets.session_view import QtSessionView

THROTTLE_MS: Final = 150
YOURS: Final = " ★"  # marks the workspace's own exchange in the column header

#: (key, caption) of the table's rows, in the order ``marginlab-cli compare`` prints them.
METRICS: Final = (
    ("contract", "Contract"),
    ("initial_margin", "Initial margin"),
    ("maintenance_margin", "Maintenance margin"),
    ("tier", "Tier"),
    ("liquidation_price", "Liquidation price"),
    ("bankruptcy_price", "Bankruptcy price"),
    ("distance", "Distance to LP"),
    ("rules", "Rules"),
)
ROW: Final = {key: i for i, (key, _) in enumerate(METRICS)}


@dataclass(frozen=True, slots=True)
class Comparison:
    """What the tab shows: the inputs, one row per profile, and the explanations."""

    position: Position
    mark: float
    wallet: float | None
    reference: str
    rows: tuple[ComparisonRow, ...]
    explanations: tuple[str, ...]


def comparison_for(session: Session) -> Comparison | None:
    """The selected position compared under every loaded profile (None when there is none).

    The mark is the one the session quotes at (the streamed mark once the feed has moved); a cross
    position is backed by the account's wallet, as ``marginlab-cli compare --wallet``.
    """
    p = session.position
    if p is None:
        return None
    account = session.account_for_quote()
    mark = account.mark_of(p)
    wallet = account.wallet_usd if p.mode is MarginMode.CROSS else None
    rows = compare_in_account(session.profiles, account, session.selected)
    ref = session.scenario.exchange
    explanations = tuple(explain_differences(rows, reference=ref))
    others = [q for i, q in enumerate(account.positions) if i != session.selected and q.mode is MarginMode.CROSS]
    if wallet is not None and others:
        alone = compare_position([session.profile], p, mark=mark, wallet=wallet)[0]
        rows = (*rows, replace(alone, alone=True))
    return Comparison(p, mark, wallet, ref, rows, explanations)


def cell_texts(row: ComparisonRow) -> dict[str, str]:
    """The table cells of one profile, rounded by ``core.fmt`` ("--" where there is no price)."""
    if row.quote is None:
        return {"contract": "not available", **{k: fmt.NONE_TEXT for k, _ in METRICS[1:-1]},
                "rules": _rules(row)}
    q, t, tick, asset = row.quote, row.quote.tier, row.tick_size, row.settle_asset
    settles = "" if asset == row.quote_currency else f", margin in {asset}"
    return {
        "contract": f"{row.symbol} ({row.quote_currency}{settles})",
        "initial_margin": fmt.amount(q.initial_margin, asset),
        "maintenance_margin": fmt.amount(q.maintenance_margin, asset),
        "tier": f"{t.index + 1}: MMR {fmt.pct(t.mmr, 3)}, {t.max_leverage:g}x",
        "liquidation_price": fmt.price(q.liquidation_price, tick),
        "bankruptcy_price": fmt.price(q.bankruptcy_price, tick),
        "distance": fmt.pct(q.distance_to_liquidation),
        "rules": _rules(row),
    }


def _rules(row: ComparisonRow) -> str:
    r = row.profile.rules
    return f"MM on {r.mm_basis.value}, fee {r.fee_model.value}"


def error_text(row: ComparisonRow) -> str:
    """The reason a profile refuses the position, naming the field ("" when it does not)."""
    if row.ok:
        return ""
    return row.error if row.error_field in ("", "symbol") else f"{row.error_field}: {row.error}"


class QtCompareView(QtSessionView):
    """IM, MM, tier, LP and BP of the selected position under every profile, with explanations."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, THROTTLE_MS, parent)
        self.comparison: Comparison | None = None

        self.heading = self.heading_label("compare_heading")
        self.table = QTableWidget(len(METRICS), 0)
        self.table.setObjectName("compare_table")
        self.table.setVerticalHeaderLabels([caption for _, caption in METRICS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.explanations = QListWidget()
        self.explanations.setObjectName("compare_explanations")
        self.explanations.setWordWrap(True)
        self.explanations.setAlternatingRowColors(True)
        caption = QLabel("Why they differ (each line names the rule; 'would move' re-quotes the position "
                         "with only that rule taken from your exchange):")
        caption.setWordWrap(True)
        lower = QWidget()
        lv = QVBoxLayout(lower)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(caption)
        lv.addWidget(self.explanations)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(split, 1)

        #: The date tables are aged against (a test sets a fixed one).
        self.today: Callable[[], dt.date] = dt.date.today
        self.follow_session()
        self.refresh()

    def refresh(self) -> None:
        self.throttle.cancel()
        s = self.session
        p = s.position
        key = None if p is None else (s.selected, s.account_for_quote(), s.scenario.exchange,
                                      tuple(pr.id for pr in s.profiles))
        if key == self._key and self.comparison is not None:
            return
        self._key = key
        self.comparison = comparison_for(s)
        self._show()

    # ------------------------------------------------------------------ drawing

    def _show(self) -> None:
        c, s = self.comparison, self.session
        self.table.clearSpans()
        if c is None:
            self.heading.setText("No position selected.")
            self.table.setColumnCount(0)
            self.explanations.clear()
            return
        p = c.position
        text = (f"{p.side.value} {fmt.num(p.qty_base)} {p.symbol} @ {fmt.num(p.entry_price)}, "
                f"{p.leverage:g}x {p.mode.value}, mark {fmt.num(c.mark)}")
        if c.wallet is not None:
            text += f", wallet {s.money(c.wallet, unit=True)}"
        elif p.margin_usd is not None:
            text += f", margin {s.money(p.margin_usd, unit=True)}"
        self.heading.setText(f"{text} — compared under every profile as it is in the account (the other "
                             "positions at their marks)")
        self.table.setColumnCount(len(c.rows))
        bold = QFont()
        bold.setBold(True)
        for col, row in enumerate(c.rows):
            current = row.profile.id == c.reference and not row.alone
            header = QTableWidgetItem(f"{row.profile.id}{YOURS if current else ''}{' (alone)' if row.alone else ''}")
            notice = stale_notice(row.profile, today=self.today())
            header.setToolTip(f"{row.profile.name}, as of {row.profile.as_of}\n{row.profile.source}"
                              + (f"\n{notice}" if notice else "")
                              + ("\n(your workspace's exchange: the reference of the explanations)" if current else "")
                              + ("\n(this position by itself on the whole wallet, without the account's other "
                                 "positions)" if row.alone else ""))
            if current:
                header.setFont(bold)
            self.table.setHorizontalHeaderItem(col, header)
            cells = cell_texts(row)
            for key, _ in METRICS:
                item = QTableWidgetItem(cells[key])
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                                      if key not in ("contract", "rules", "tier")
                                      else Qt.AlignmentFlag.AlignCenter)
                if current:
                    item.setFont(bold)
                self.table.setItem(ROW[key], col, item)
            if row.quote is not None:
                for key, explain_key in (("initial_margin", "initial_margin"),
                                         ("maintenance_margin", "maintenance_margin"),
                                         ("liquidation_price", "liquidation_price"),
                                         ("bankruptcy_price", "bankruptcy_price")):
                    cell = self.table.item(ROW[key], col)
                    if cell is not None:
                        cell.setToolTip(row.quote.explain.get(explain_key, ""))
            else:
                # the reason spans the numeric rows of the column
                reason = QTableWidgetItem(error_text(row))
                reason.setToolTip(error_text(row))
                reason.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                reason.setForeground(Qt.GlobalColor.darkRed)
                first, last = ROW["initial_margin"], ROW["distance"]
                self.table.setItem(first, col, reason)
                self.table.setSpan(first, col, last - first + 1, 1)
        self.explanations.clear()
        notices = {row.profile.id: stale_notice(row.profile, today=self.today()) for row in c.rows}
        self.explanations.addItems([f"Note: {n}" for n in notices.values() if n] + list(c.explanations))

    # ------------------------------------------------------------------ reading (tests, export)

    def cell(self, key: str, profile_id: str) -> str:
        """The text shown for ``key`` (a :data:`METRICS` key) under ``profile_id``."""
        c = self.comparison
        if c is None:
            raise KeyError(profile_id)
        col = next(i for i, r in enumerate(c.rows) if r.profile.id == profile_id and not r.alone)
        item = self.table.item(ROW[key], col)
        return "" if item is None else item.text()

    def explanation_lines(self) -> list[str]:
        return [self.explanations.item(i).text() for i in range(self.explanations.count())]

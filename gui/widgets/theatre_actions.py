"""The scripted-actions editor: the trader's actions on the timeline, editable and undoable.

One row per action (time, kind, position, value, order size). Every change goes through
:meth:`gui.theatre.TheatreSession.set_actions`, which re-runs the simulation and pushes one undoable
command only if the run succeeds; a refused value is named in the status line and the table shows
the actions as they were. "Add at cursor" puts a new action at the playback cursor, so a teacher
can stop the playback just before a liquidation, add margin there and show that the position
survives.
"""
from __future__ import annotations

import math
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import InvalidInputError
from core.quote import opening_requirement
from core.simulate import Action, ActionKind
from gui.theatre import TheatreSession

KIND_LABELS: Final[dict[ActionKind, str]] = {
    ActionKind.ADD_MARGIN: "add margin",
    ActionKind.CHANGE_LEVERAGE: "change leverage",
    ActionKind.REDUCE: "partial close",
    ActionKind.STOP_LOSS: "stop-loss",
    ActionKind.TAKE_PROFIT: "take-profit",
}
VALUE_MEANING: Final[dict[ActionKind, str]] = {
    ActionKind.ADD_MARGIN: "amount added to the margin",
    ActionKind.CHANGE_LEVERAGE: "new leverage",
    ActionKind.REDUCE: "quantity closed at market",
    ActionKind.STOP_LOSS: "trigger price (last price)",
    ActionKind.TAKE_PROFIT: "trigger price (last price)",
}
COL_T, COL_KIND, COL_POS, COL_VALUE, COL_QTY = range(5)


def _nice(x: float) -> float:
    """Round to two significant digits (a default a person would type)."""
    if not (math.isfinite(x) and x > 0):
        return 1.0
    e = math.floor(math.log10(x)) - 1
    return round(x / 10**e) * 10**e


class QtActionsEditor(QWidget):
    """Table of scripted actions with add, remove, undo and redo."""

    HEADERS: Final = ["t (s)", "action", "position", "value", "order qty"]

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._loading = False
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, tip in ((COL_VALUE, "add margin: amount; change leverage: the new leverage; partial close: quantity; "
                                     "stop-loss / take-profit: the trigger price on the last price"),
                         (COL_QTY, "stop-loss / take-profit only: how much to close when it fires (empty: the "
                                   "whole position)")):
            header = self.table.horizontalHeaderItem(col)
            if header is not None:
                header.setToolTip(tip)
        self.table.itemChanged.connect(self._item_changed)

        self.kind_combo = QComboBox()
        for k, text in KIND_LABELS.items():
            self.kind_combo.addItem(text, k.value)
        self.add_button = QPushButton("Add at cursor")
        self.add_button.setToolTip("Add the chosen action at the playback cursor's time.")
        self.add_button.clicked.connect(self.add_at_cursor)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.undo_button = QToolButton()
        self.undo_button.setDefaultAction(session.undo_stack.createUndoAction(self, "Undo"))
        self.redo_button = QToolButton()
        self.redo_button.setDefaultAction(session.undo_stack.createRedoAction(self, "Redo"))
        self.status = QLabel("Stop the playback before a liquidation and add margin there: "
                             "had you added margin here, would you have survived?")
        self.status.setWordWrap(True)

        bar = QHBoxLayout()
        bar.addWidget(self.kind_combo)
        bar.addWidget(self.add_button)
        bar.addWidget(self.remove_button)
        bar.addStretch(1)
        bar.addWidget(self.undo_button)
        bar.addWidget(self.redo_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.table)
        lay.addWidget(self.status)
        session.resultChanged.connect(self.reload)
        session.busyChanged.connect(lambda busy: self.setEnabled(not busy))
        session.runFailed.connect(self._failed)
        session.actionsReport.connect(self._report)
        self.reload()

    # -- table <-> actions ---------------------------------------------------------------------------

    def _labels(self) -> list[str]:
        sc = self.session.scenario
        if sc is None:
            return []
        tl = self.session.timeline
        if tl is not None:
            return [tr.label for tr in tl.tracks]
        return [f"{p.symbol} {p.side.value}" for p in sc.account.positions]

    def reload(self) -> None:
        self._loading = True
        try:
            acts = self.session.actions
            labels = self._labels()
            self.table.setRowCount(len(acts))
            for r, a in enumerate(acts):
                self.table.setItem(r, COL_T, QTableWidgetItem(f"{a.t:g}"))
                kind = QComboBox()
                for k, text in KIND_LABELS.items():
                    kind.addItem(text, k.value)
                kind.setCurrentIndex(list(KIND_LABELS).index(a.kind))
                kind.currentIndexChanged.connect(lambda _i, row=r: self._kind_changed(row))
                self.table.setCellWidget(r, COL_KIND, kind)
                pos = QComboBox()
                pos.addItems(labels)
                pos.setCurrentIndex(a.position)
                pos.currentIndexChanged.connect(lambda _i, row=r: self._row_changed(row))
                self.table.setCellWidget(r, COL_POS, pos)
                value = QTableWidgetItem(f"{a.value:g}")
                value.setToolTip(VALUE_MEANING[a.kind])
                self.table.setItem(r, COL_VALUE, value)
                qty = QTableWidgetItem("" if a.qty is None else f"{a.qty:g}")
                if a.kind not in (ActionKind.STOP_LOSS, ActionKind.TAKE_PROFIT):
                    qty.setFlags(qty.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(r, COL_QTY, qty)
        finally:
            self._loading = False

    def row_action(self, row: int) -> Action:
        """The action a row describes; a cell that is not a number raises naming the column."""
        def num(col: int, name: str) -> float | None:
            item = self.table.item(row, col)
            text = (item.text() if item is not None else "").replace(",", "").strip()
            if not text:
                return None
            try:
                return float(text)
            except ValueError:
                raise InvalidInputError(f"actions[{row}].{name}", f"{text!r} is not a number") from None

        kind_w = self.table.cellWidget(row, COL_KIND)
        pos_w = self.table.cellWidget(row, COL_POS)
        kind = ActionKind(kind_w.currentData()) if isinstance(kind_w, QComboBox) else ActionKind.ADD_MARGIN
        t = num(COL_T, "t")
        value = num(COL_VALUE, "value")
        if t is None:
            raise InvalidInputError(f"actions[{row}].t", "missing: the time in seconds")
        if value is None:
            raise InvalidInputError(f"actions[{row}].value", f"missing: the {VALUE_MEANING[kind]}")
        qty = num(COL_QTY, "qty") if kind in (ActionKind.STOP_LOSS, ActionKind.TAKE_PROFIT) else None
        return Action(t=t, kind=kind, position=pos_w.currentIndex() if isinstance(pos_w, QComboBox) else 0,
                      value=value, qty=qty)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if not self._loading:
            self._row_changed(item.row())

    def _row_changed(self, row: int) -> None:
        if self._loading:
            return
        try:
            self.session.replace_action(row, self.row_action(row))
        except InvalidInputError as exc:
            self._failed(str(exc))

    def _kind_changed(self, row: int) -> None:
        """A new kind gets that kind's sensible value (a margin amount is no stop price)."""
        if self._loading:
            return
        try:
            a = self.row_action(row)
            value = self.default_action(a.kind, a.position, t=a.t).value
            self.session.replace_action(row, Action(t=a.t, kind=a.kind, position=a.position, value=value))
        except InvalidInputError as exc:
            self._failed(str(exc))

    def _failed(self, message: str) -> None:
        self.status.setText(f"Not applied: {message}")
        self.reload()

    # -- buttons --------------------------------------------------------------------------------------

    def default_action(self, kind: ActionKind, position: int = 0, *, t: float | None = None) -> Action:
        """A sensible action of ``kind`` at ``t`` (default: the cursor) for a position: a quarter of
        the opening margin, half the leverage or size, a trigger 1 % from the mark."""
        s = self.session
        tl = s.timeline
        sc = s.scenario
        t = round(s.cursor, 6) if t is None else t
        if tl is None or sc is None:
            return Action(t=t, kind=kind, position=position, value=1.0)
        p = sc.account.positions[position]
        tr = tl.tracks[position]
        qty = float(tr.qty[tr.k_at(t)]) if math.isfinite(tr.qty[tr.k_at(t)]) else p.qty_base
        mark = tl.mark_at(t)
        if kind is ActionKind.ADD_MARGIN:
            value = _nice(opening_requirement(s.profiles.get(sc.exchange), p) / 4)
        elif kind is ActionKind.CHANGE_LEVERAGE:
            value = max(1.0, round(p.leverage / 2))
        elif kind is ActionKind.REDUCE:
            value = _nice(max(qty, 1e-9) / 2)
        else:
            sign = p.side.sign * (-1 if kind is ActionKind.STOP_LOSS else 1)
            value = round(mark * (1 + sign * 0.01), 2)
        return Action(t=t, kind=kind, position=position, value=value)

    def add_at_cursor(self) -> None:
        kind = ActionKind(self.kind_combo.currentData())
        pos = 0
        row = self.table.currentRow()
        w = self.table.cellWidget(row, COL_POS) if row >= 0 else None
        if isinstance(w, QComboBox):
            pos = w.currentIndex()
        # what the action did is known only once the run is back: actionsReport or runFailed says
        self.status.setText(f"Simulating with the {KIND_LABELS[kind]} at t = {self.session.cursor:g} s...")
        try:
            self.session.add_action(self.default_action(kind, pos))
        except InvalidInputError as exc:
            self._failed(str(exc))

    def _report(self, text: str) -> None:
        if text:
            self.status.setText(f"{text} Edit its value in the table.")

    def remove_selected(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.session.actions):
            self.session.remove_action(row)

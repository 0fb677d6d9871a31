"""The theatre's panels that follow playback: event log, insurance fund, ledger, ADL queue, and the
isolated-versus-cross comparison.

Each panel takes the :class:`~gui.theatre.TheatreSession`, rebuilds on ``resultChanged`` and
updates its "now" column or highlight on ``cursorChanged``. Numbers come from the timeline (ledger
replay, ``adl_score``) or straight from the simulation's records; nothing is re-derived here.
"""
from __future__ import annotations

import math
from typing import Final

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import fmt
from core.model import MarginMode
from core.simulate import FUND, EventKind, SimulationResult
from core.timeline import Outcome
from gui.palette import follow_palette, style_plot
from gui.theatre import TheatreSession
from gui.widgets.theatre_chart import legend_below

FUTURE: Final = QColor("#a0a4a8")
NOW_BG: Final = QColor("#dbe8ff")


def _amount(res: SimulationResult, x: float) -> str:
    """An amount of the simulation's ledger in its settle asset (USDT, or BTC for an inverse contract)."""
    return fmt.amount(x, res.settle_asset)


def _name_the_asset(table: QTableWidget, headers: list[str], columns: tuple[int, ...], asset: str) -> None:
    """Headers with the asset after the amount ``columns`` ("margin (BTC)"); untouched when they say it."""
    for c in columns:
        text = f"{headers[c]} ({asset})"
        item = table.horizontalHeaderItem(c)
        if item is None or item.text() != text:
            table.setHorizontalHeaderItem(c, QTableWidgetItem(text))


def _item(text: str, *, align_right: bool = False, tip: str = "") -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if align_right:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tip:
        it.setToolTip(tip)
    return it


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.setAlternatingRowColors(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    t.verticalHeader().setDefaultSectionSize(t.fontMetrics().height() + 6)
    return t


# ----------------------------------------------------------------------------------------- events


class QtEventLog(QWidget):
    """Every event of the run; those after the cursor are greyed; a click seeks to the event."""

    eventClicked = Signal(int)

    HEADERS: Final = ["t (s)", "event", "position", "price", "qty", "amount"]

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.table = _table(self.HEADERS)
        self.table.setToolTip("Click an event to move the cursor and the chart to its time.")
        self.table.cellClicked.connect(self._clicked)
        self._shown = 0
        self.empty = QLabel("Nothing happened on this path: no trigger, no order, no action.")
        self.empty.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.table)
        lay.addWidget(self.empty)
        session.resultChanged.connect(self._on_result)
        session.cursorChanged.connect(self._on_cursor)
        self._on_result()

    def _on_result(self) -> None:
        res = self.session.result
        events = () if res is None else res.events
        self.table.setRowCount(len(events))
        tick = 0.01 if res is None else res.tick_size
        asset = self.session.settle_asset
        _name_the_asset(self.table, self.HEADERS, (5,), asset)
        for r, e in enumerate(events):
            price = fmt.price(e.price, tick) if math.isfinite(e.price) else ""
            qty = "" if not e.qty or e.kind is EventKind.ORDERS_CANCELLED else fmt.num(round(e.qty, 9))
            detail = "\n".join(f"{k}: {v:,.6g}" for k, v in e.detail.items())
            cells = [f"{e.t:g}", e.kind.value.replace("_", " "), e.position, price, qty,
                     fmt.amount(e.amount, asset) if e.amount else ""]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, _item(text, align_right=c in (0, 3, 4, 5),
                                               tip=f"mark {fmt.price(e.mark, tick)}, last "
                                                   f"{fmt.price(e.last, tick)}\n{detail}"))
        self.empty.setVisible(res is not None and not events)
        self._on_cursor(self.session.cursor, full=True)

    def _on_cursor(self, _t: float, *, full: bool = False) -> None:
        """Grey the events after the cursor; only the rows that changed side are touched, so
        playback through thousands of events stays cheap."""
        n = self.session.current_event_index() + 1
        rows = range(self.table.rowCount()) if full else range(min(n, self._shown), max(n, self._shown))
        for r in rows:
            for c in range(self.table.columnCount()):
                it = self.table.item(r, c)
                if it is not None:
                    it.setForeground(QBrush(FUTURE) if r >= n else QBrush())
        self._shown = n

    def _clicked(self, row: int, _col: int) -> None:
        self.session.seek_event(row)
        self.eventClicked.emit(row)


# ---------------------------------------------------------------------------------- insurance fund


class QtFundPanel(QWidget):
    """The insurance fund's balance over time (step), its inflows (up) and payouts (down)."""

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.plot = pg.PlotWidget()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.setLabel("left", "fund")
        for ax in ("left", "bottom"):
            self.plot.getAxis(ax).enableAutoSIPrefix(False)
        legend_below(self.plot, columns=3)
        follow_palette(self.plot, lambda: style_plot(self.plot))
        self.balance_curve = self.plot.plot(pen=pg.mkPen("#5b8def", width=2), name="balance")
        self.inflows = pg.BarGraphItem(x=[], height=[], width=1, brush="#2fb67c", name="inflow")
        self.outflows = pg.BarGraphItem(x=[], height=[], width=1, brush="#e5484d", name="payout")
        self.plot.addItem(self.inflows)
        self.plot.addItem(self.outflows)
        self.cursor_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#5b8def", width=1))
        self.plot.addItem(self.cursor_line, ignoreBounds=True)
        self.label = QLabel()
        self.label.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.plot)
        session.resultChanged.connect(self._on_result)
        session.cursorChanged.connect(self._on_cursor)
        self._on_result()

    def _on_result(self) -> None:
        tl = self.session.timeline
        if tl is None:
            self.balance_curve.setData([], [])
            return
        self.plot.setLabel("left", f"fund ({tl.settle_asset})")
        x = np.append(tl.fund_t, tl.t_end)
        self.balance_curve.setData(np.repeat(x, 2)[1:-1], np.repeat(tl.fund_balance, 2))  # a step series
        w = max(tl.t_end - tl.t0, 1e-9) * 0.012
        ins = [(tr.t, tr.amount) for tr in tl.result.transfers if tr.dst == FUND]
        outs = [(tr.t, -tr.amount) for tr in tl.result.transfers if tr.src == FUND]
        self.inflows.setOpts(x=[a for a, _ in ins], height=[b for _, b in ins], width=w)
        self.outflows.setOpts(x=[a for a, _ in outs], height=[b for _, b in outs], width=w)
        self.plot.setXRange(tl.t0, tl.t_end, padding=0.02)
        self.plot.enableAutoRange(axis="y")
        self._on_cursor(self.session.cursor)

    def _on_cursor(self, t: float) -> None:
        tl = self.session.timeline
        self.cursor_line.setValue(t)
        if tl is None:
            self.label.setText("")
            return
        ins = math.fsum(tr.amount for tr in tl.transfers_until(t) if tr.dst == FUND)
        outs = math.fsum(tr.amount for tr in tl.transfers_until(t) if tr.src == FUND)
        a = tl.settle_asset
        self.label.setText(f"Insurance fund at t = {t:g} s: <b>{fmt.amount(tl.fund_at(t), a)} {a}</b> "
                           f"(start {fmt.amount(float(tl.fund_balance[0]), a)}, inflows so far "
                           f"{fmt.amount(ins, a)}, payouts so far {fmt.amount(outs, a)}; at the end "
                           f"{fmt.amount(float(tl.fund_balance[-1]), a)})")


# ------------------------------------------------------------------------------------------ ledger


class QtLedgerPanel(QWidget):
    """Every ledger party's balance: at the start, at the cursor, at the end."""

    HEADERS: Final = ["party", "start", "now", "end", "change so far"]

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.table = _table(self.HEADERS)
        self.note = QLabel()
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.note)
        lay.addWidget(self.table)
        session.resultChanged.connect(self._on_cursor)
        session.cursorChanged.connect(self._on_cursor)
        self._on_cursor(session.cursor)

    def balances_now(self) -> dict[str, float]:
        tl = self.session.timeline
        return {} if tl is None else tl.balances_at(self.session.cursor)

    def _on_cursor(self, *_args: object) -> None:
        tl = self.session.timeline
        parties = () if tl is None else tl.result.parties
        a = self.session.settle_asset
        note = (f"Balances in {a}. Every change is a transfer between two parties, so the sum never moves: "
                "what a trader loses, the market, the fund or a counterparty gains.")
        if self.note.text() != note:
            self.note.setText(note)
        now = self.balances_now()
        self.table.setRowCount(len(parties) + (1 if parties else 0))
        bold = QFont()
        bold.setBold(True)
        for r, p in enumerate(parties):
            cells = [p.name, fmt.amount(p.start, a), fmt.amount(now[p.name], a), fmt.amount(p.end, a),
                     fmt.amount(now[p.name] - p.start, a)]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, _item(text, align_right=c > 0))
        if parties:
            r = len(parties)
            total_now = math.fsum(now.values())
            cells = ["sum", fmt.amount(math.fsum(p.start for p in parties), a), fmt.amount(total_now, a),
                     fmt.amount(math.fsum(p.end for p in parties), a),
                     fmt.amount(total_now - math.fsum(p.start for p in parties), a)]
            for c, text in enumerate(cells):
                it = _item(text, align_right=c > 0)
                it.setFont(bold)
                self.table.setItem(r, c, it)


# --------------------------------------------------------------------------------------- ADL queue


class QtAdlPanel(QWidget):
    """The auto-deleveraging queue at the cursor, ranked by ``core.simulate.adl_score``.

    At the time of an auto-deleveraging it shows the ranking the simulator used, before the close
    (:meth:`core.timeline.Timeline.adl_queue_at`), with what each ``adl`` event closed.
    """

    HEADERS: Final = ["rank", "counterparty", "side", "qty", "entry", "margin", "uPnL", "score", "in queue",
                      "ADL'd now"]

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.table = _table(self.HEADERS)
        self.note = QLabel("Rank = PnL% x effective leverage when in profit (PnL% / leverage otherwise), "
                           "PnL% = uPnL / margin, effective leverage = mark / |mark - bankruptcy|. "
                           "Only opposite-side counterparties in profit are deleveraged, best rank first.")
        self.note.setWordWrap(True)
        self.empty = QLabel("This scenario has no counterparties: nobody to auto-deleverage.")
        self.moment = QLabel()
        self.moment.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.note)
        lay.addWidget(self.moment)
        lay.addWidget(self.table)
        lay.addWidget(self.empty)
        session.resultChanged.connect(self._on_cursor)
        session.cursorChanged.connect(self._on_cursor)
        self._on_cursor()

    def _on_cursor(self, *_args: object) -> None:
        tl = self.session.timeline
        t = self.session.cursor
        rows, adl = ([], ()) if tl is None else tl.adl_queue_at(t)
        self.table.setRowCount(len(rows))
        tick = 0.01 if tl is None else tl.result.tick_size
        asset = self.session.settle_asset
        _name_the_asset(self.table, self.HEADERS, (5, 6), asset)
        closed = {e.position: f"{fmt.num(round(e.qty, 9))} @ {fmt.price(e.price, tick)}" for e in adl}
        bold = QFont()
        bold.setBold(True)
        for r, row in enumerate(rows):
            cells = [str(row.rank), row.name, row.side.value, fmt.num(round(row.qty, 9)),
                     fmt.price(row.entry, tick), fmt.amount(row.margin, asset),
                     fmt.amount(row.unrealized_pnl, asset),
                     f"{row.score:.4g}" if math.isfinite(row.score) else "--", "yes" if row.eligible else "no",
                     closed.get(row.name, "")]
            for c, text in enumerate(cells):
                it = _item(text, align_right=c in (0, 3, 4, 5, 6, 7))
                if not row.eligible:
                    it.setForeground(QBrush(FUTURE))
                if row.name in closed:
                    it.setBackground(QBrush(NOW_BG))
                    it.setFont(bold)
                self.table.setItem(r, c, it)
        if adl:
            who = ", ".join(f"{e.position} {fmt.num(round(e.qty, 9))} @ {fmt.price(e.price, tick)}" for e in adl)
            self.moment.setText(f"At t = {t:g} s the simulator auto-deleveraged {who}: the queue as it "
                                f"ranked it, before the close.")
        self.moment.setVisible(bool(adl))
        self.empty.setVisible(tl is not None and not tl.counterparties)
        self.table.setVisible(bool(rows))


# ------------------------------------------------------------------------------ isolated vs cross


def outcome_lines(res: SimulationResult) -> list[str]:
    """A few lines that say what happened to the trader (numbers from the result's ledger)."""
    trader = [p for p in res.parties if p.name.startswith("trader.")]
    change = math.fsum(p.change for p in trader)
    n_liq = len({(r.t, r.position) for r in res.liquidations})
    lines = [f"liquidation steps: {n_liq}" if n_liq else "no liquidation",
             f"trader's money: {'+' if change >= 0 else ''}{_amount(res, change)} {res.settle_asset}"]
    try:
        fund = res.party(FUND)
        lines.append(f"insurance fund: {'+' if fund.change >= 0 else ''}{_amount(res, fund.change)} {res.settle_asset}")
    except KeyError:
        pass
    left = ", ".join(f"{o.label} {fmt.num(round(o.qty, 9))}" for o in res.open_positions)
    lines.append(f"still open: {left or 'nothing'}")
    return lines


class QtModeCompare(QWidget):
    """The same positions run twice, every position isolated and every position cross."""

    def __init__(self, session: TheatreSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[MarginMode, tuple[QGroupBox, QLabel, QListWidget]] = {}
        for mode, title in ((MarginMode.ISOLATED, "Isolated: each position on its own margin"),
                            (MarginMode.CROSS, "Cross: one wallet backs every position")):
            box = QGroupBox(title)
            summary = QLabel()
            summary.setWordWrap(True)
            summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            events = QListWidget()
            v = QVBoxLayout(box)
            v.addWidget(summary)
            v.addWidget(events)
            lay.addWidget(box)
            self.boxes[mode] = (box, summary, events)
        session.resultChanged.connect(self._on_result)
        self._on_result()

    def outcome(self, mode: MarginMode) -> Outcome | None:
        return next((o for o in self.session.outcomes if o.mode is mode), None)

    def _on_result(self) -> None:
        sc = self.session.scenario
        modes = {p.mode for p in sc.account.positions} if sc is not None else set()
        for mode, (box, summary, events) in self.boxes.items():
            o = self.outcome(mode)
            events.clear()
            this = " (this file)" if modes == {mode} else ""
            box.setTitle(("Isolated: each position on its own margin" if mode is MarginMode.ISOLATED
                          else "Cross: one wallet backs every position") + this)
            if o is None:
                summary.setText("")
                continue
            if o.result is None:
                summary.setText(f"Cannot run in this mode: {o.error}")
                continue
            acct = o.scenario.account if o.scenario is not None else None
            money = "" if acct is None else (
                f"wallet {_amount(o.result, acct.wallet_usd)}"
                + "".join(f", margin {_amount(o.result, p.margin_usd)}" for p in acct.positions if p.margin_usd)
                + f" {o.result.settle_asset}")
            text = "<br>".join([money, *outcome_lines(o.result)] + ([f"<i>{o.note}</i>"] if o.note else []))
            summary.setText(text)
            tick = o.result.tick_size
            for e in o.result.events:
                price = f" @ {fmt.price(e.price, tick)}" if math.isfinite(e.price) else ""
                events.addItem(f"t={e.t:g}  {e.kind.value.replace('_', ' ')}  {e.position}{price}")
            if not o.result.events:
                events.addItem("nothing happened")

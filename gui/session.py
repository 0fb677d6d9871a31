"""The one view-model between the widgets and ``core``.

:class:`Session` owns the current frozen :class:`~core.scenario.Scenario`, the quote of its account
(from :func:`core.quote.quote_account`), the selected position, the mark-price feed and its playback,
the what-if preview, and the ``QUndoStack`` through which every edit passes. Widgets subscribe to the
fine-grained signals and never compute a margin: every number they show is a field of a core record.

Edits validate first (building the new frozen position and quoting the new account); a refused edit
raises :class:`~core.errors.InvalidInputError` naming the field and the allowed range and leaves the
state untouched. An accepted edit is pushed as a command that stores the scenario before and after.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from core import fmt, lp_target, whatif
from core.audit import PositionAudit, position_audits
from core.errors import InvalidInputError
from core.fees import with_fee_rates
from core.funding import default_funding_rate
from core.margin import qty_from_quote_value
from core.model import Account, MarginMode, Position, PositionMode, Side
from core.profiles import Profile, ProfileSet
from core.quote import (
    AccountQuote,
    PositionQuote,
    account_settle_asset,
    entry_notional,
    leverage_limit,
    quote_account,
    validate_account,
)
from core.scenario import Scenario
from core.simspec import (
    MAX_FUNDING_RATE,
    Action,
    ActionKind,
    FundingSpec,
    SimulationSpec,
    simulation_from_dict,
)
from core.symbols import map_account
from gui import commands
from gui.live_feed import LiveFeed
from gui.workspace_file import WorkspaceFile

WHATIF_ACTIONS: Final[dict[str, tuple[str, Callable[..., whatif.WhatIf]]]] = {
    "add_margin": ("Add margin", whatif.add_margin),
    "remove_margin": ("Remove margin", whatif.remove_margin),
    "change_leverage": ("Change leverage", whatif.change_leverage),
    "partial_close": ("Partial close", whatif.partial_close),
    "add_to_position": ("Add to position", whatif.add_to_position),
    "target_liquidation": ("Move liquidation price", lp_target.target_liquidation_price),
    "hold": ("Hold with funding", whatif.hold_with_funding),
}

_FIELD_LABELS: Final = {"qty": "size", "notional": "size", "entry": "entry", "leverage": "leverage",
                        "margin": "margin", "side": "side", "mode": "mode", "symbol": "symbol"}


@dataclass(frozen=True, slots=True)
class Event:
    wall_time: str
    feed_t_s: float
    kind: str
    detail: str


class Session(QObject):
    """State, undo stack and signals of one workspace."""

    scenarioChanged = Signal()  # positions, wallet, marks or profile changed
    selectionChanged = Signal(int)
    resultsChanged = Signal()  # self.quote was recomputed (after an edit or a new mark)
    previewChanged = Signal(object)  # a whatif.WhatIf, or None when the preview is cleared
    eventsChanged = Signal()

    def __init__(self, profiles: ProfileSet, scenario: Scenario, *, seed: int = 7, volatility: float = 0.8,
                 speed: int = 3_600, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.profiles = profiles
        self.undo_stack = QUndoStack(self)
        self.scenario = scenario
        self.selected = 0
        self.quote: AccountQuote | None = None
        self.problem = ""
        self.preview_result: whatif.WhatIf | None = None
        self.preview_action = ""
        self._preview_params: dict[str, Any] = {}
        self.events: list[Event] = []
        #: What a dragged liquidation line changes (core.lp_target.LEVERS); the what-if panel sets it.
        self.target_lever = "margin"
        self._audits: tuple[Scenario, dict[int, PositionAudit]] | None = None
        self.live = LiveFeed(self, s0=self._scenario_mark(), seed=seed, volatility=volatility, speed=speed,
                             parent=self)
        self.file = WorkspaceFile(self, parent=self)
        self.requote()

    # ================================================================== reading

    @property
    def profile(self) -> Profile:
        return self.profiles.get(self.scenario.exchange)

    @property
    def account(self) -> Account:
        return self.scenario.account

    @property
    def position(self) -> Position | None:
        ps = self.scenario.account.positions
        return ps[self.selected] if 0 <= self.selected < len(ps) else None

    @property
    def position_quote(self) -> PositionQuote | None:
        if self.quote is None or not 0 <= self.selected < len(self.quote.positions):
            return None
        return self.quote.positions[self.selected]

    @property
    def chart_symbol(self) -> str | None:
        p = self.position
        return None if p is None else p.symbol

    @property
    def tick(self) -> float:
        sym = self.chart_symbol
        return self.profile.contract(sym).tick_size if sym else 0.01

    @property
    def quote_ccy(self) -> str:
        """The currency prices are in (the selected contract's quote currency)."""
        sym = self.chart_symbol
        return self.profile.contract(sym).quote if sym else "USDT"

    @property
    def settle_ccy(self) -> str:
        """The asset margins, PnL and the wallet are in: the account's settlement asset (USDT for a
        linear USDT contract, BTC for an inverse BTCUSD contract; :func:`core.quote.account_settle_asset`)."""
        return account_settle_asset(self.profile, self.scenario.account)

    def money(self, x: float | None, *, signed: bool = False, unit: bool = False) -> str:
        """An amount in the settlement asset as every widget shows it (:func:`core.fmt.amount`: cents
        for USDT, 8 decimals for BTC): "+" before a gain when ``signed``, the asset after it when ``unit``."""
        asset = self.settle_ccy
        text = fmt.amount(x, asset)
        if signed and x is not None and x > 0 and text != fmt.amount(0.0, asset):
            text = "+" + text
        return f"{text} {asset}" if unit else text

    def max_leverage(self, index: int | None = None) -> tuple[float, int]:
        """(highest leverage the profile accepts for the position's entry notional, its tier index)."""
        p = self.scenario.account.positions[self.selected if index is None else index]
        return leverage_limit(self.profile, p.symbol, entry_notional(self.profile, p))

    def _scenario_mark(self, scenario: Scenario | None = None, index: int | None = None) -> float:
        sc = scenario or self.scenario
        ps = sc.account.positions
        i = self.selected if index is None else index
        if not ps:
            return 1.0
        p = ps[min(max(i, 0), len(ps) - 1)]
        return sc.account.mark_of(p)

    @property
    def funding(self) -> FundingSpec:
        """The workspace's funding rate (its ``simulation.funding``), else the interest component
        alone, 0.01 % per 8 hours pro rata (:func:`core.funding.default_funding_rate`, docs/domain.md §9.1)."""
        sim = self.scenario.simulation
        if sim is not None and sim.funding is not None:
            return sim.funding
        return FundingSpec(rate=default_funding_rate(self.profile.rules.funding_interval_h))

    @property
    def funding_interval_h(self) -> float:
        """Hours between funding payments: the workspace's ``interval_h``, else the profile's."""
        return self.funding.interval_h or self.profile.rules.funding_interval_h

    def set_funding_rate(self, rate: float) -> None:
        """Make ``rate`` (per interval) the workspace's constant funding rate (``simulation.funding``),
        one undoable step; the live feed and the simulator then pay it."""
        r = float(rate)
        lo, hi = -MAX_FUNDING_RATE, MAX_FUNDING_RATE
        if not (math.isfinite(r) and lo <= r <= hi):
            raise InvalidInputError("rate", f"must be in [{lo:g}, {hi:g}] per interval, got {r:g}")
        sim = self.scenario.simulation
        if sim is not None and sim.funding is not None and not sim.funding.times and sim.funding.rate == r:
            return
        sim = sim or self._feed_simulation()
        spec = FundingSpec(rate=r, interval_h=None if sim.funding is None else sim.funding.interval_h)
        self._push(commands.EditAccount, replace(self.scenario, simulation=replace(sim, funding=spec)),
                   "Set funding rate", merge_key="funding")

    def account_for_quote(self, scenario: Scenario | None = None) -> Account:
        """The scenario's account with the streamed mark for the chart symbol once the feed has moved,
        and the funding the feed has booked (:meth:`gui.live_feed.LiveFeed.funded`)."""
        sc = scenario or self.scenario
        sym = self.chart_symbol
        feed = self.live.feed
        if sym is None or feed.n <= 1:
            return self.live.funded(sc.account)
        return self.live.funded(sc.account.with_mark(sym, feed.last_mark))

    def quote_at(self, mark: float) -> PositionQuote | None:
        """The selected position quoted at another mark (crosshair read-out, liquidation fill)."""
        p = self.position
        if p is None or not (mark > 0 and math.isfinite(mark)):
            return None
        try:
            return quote_account(self.profile, self.account_for_quote().with_mark(p.symbol, mark)).positions[self.selected]
        except InvalidInputError:
            return None

    def quote_with(self, **changes: Any) -> PositionQuote | None:
        """The selected position quoted with ``changes`` (``entry_price=...``), nothing changed (a drag's read-out)."""
        p = self.position
        if p is None:
            return None
        try:
            acct = self.account_for_quote()
            ps = list(acct.positions)
            ps[self.selected] = p.with_(**changes)
            return quote_account(self.profile, acct.with_(positions=tuple(ps))).positions[self.selected]
        except (InvalidInputError, TypeError):
            return None

    def position_audits(self) -> dict[int, PositionAudit]:
        """For an imported workspace: each position still as imported, against the exchange's figures.

        :func:`core.audit.position_audits` at the scenario's own marks (the moment of the import),
        computed once per scenario.
        """
        sc = self.scenario
        if sc.audit is None:
            return {}
        if self._audits is None or self._audits[0] is not sc:
            try:
                self._audits = (sc, position_audits(self.profile, sc.account, sc.audit))
            except InvalidInputError:
                self._audits = (sc, {})
        return self._audits[1]

    # ================================================================== quoting

    def requote(self) -> None:
        """Quote the account at the streamed mark (every new mark and every edit)."""
        try:
            self.quote = quote_account(self.profile, self.account_for_quote())
            self.problem = ""
        except InvalidInputError as exc:
            self.quote = None
            self.problem = str(exc)
        self.resultsChanged.emit()

    def _check(self, scenario: Scenario) -> None:
        """Raise InvalidInputError when ``scenario`` would be refused; touch nothing. (Core's checks
        without the quote: the command's redo quotes it, at the live mark, right after.)"""
        account = scenario.account
        validate_account(with_fee_rates(self.profiles.get(scenario.exchange), account.fees), account)

    # ================================================================== commands (every edit)

    def _install(self, scenario: Scenario, selected: int) -> None:
        """Called by the commands only: make ``scenario`` current and tell everyone."""
        old_symbol, old_mark = self.chart_symbol, self._scenario_mark()
        self.scenario = scenario
        n = len(scenario.account.positions)
        sel_changed = selected != self.selected
        self.selected = min(max(selected, 0), max(n - 1, 0))
        self._clear_preview(emit=True)
        if self.chart_symbol != old_symbol or self._scenario_mark() != old_mark:
            self.live.reset(self._scenario_mark())
        self.live.forget_positions_from(n)
        self.requote()
        self.scenarioChanged.emit()
        if sel_changed:
            self.selectionChanged.emit(self.selected)

    def _push(self, cls: type[commands.ReplaceScenario], after: Scenario, text: str, *,
              selected: int | None = None, merge_key: str | None = None) -> None:
        self._check(after)
        cmd = cls(self, before=self.scenario, after=after, text=text, selected_before=self.selected,
                  selected_after=self.selected if selected is None else selected, merge_key=merge_key)
        self.undo_stack.push(cmd)

    def _with_account(self, **changes: Any) -> Scenario:
        return replace(self.scenario, account=self.scenario.account.with_(**changes))

    def edit_position(self, index: int, *, merge: bool = True, **changes: Any) -> None:
        """Change fields of position ``index``: symbol, side, qty, notional, entry, leverage, mode, margin.

        ``notional`` (the position's value in the quote currency: at the entry price for a linear
        contract, contracts x contract size for an inverse one) is turned into ``qty``
        (:func:`core.margin.qty_from_quote_value`); ``margin=None`` means the opening requirement.
        Consecutive edits of one field merge into one undo step (typing, spin-box arrows);
        ``merge=False`` makes this edit a step of its own (a drag on the chart). Raises
        InvalidInputError (nothing changes).
        """
        positions = list(self.scenario.account.positions)
        if not 0 <= index < len(positions):
            raise InvalidInputError("position", f"no position #{index + 1}; there are {len(positions)}")
        p = positions[index]
        kw: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "symbol":
                self.profile.contract(value)  # UnknownProfileError names the allowed symbols
                kw["symbol"] = value
            elif key == "side":
                kw["side"] = Side(value)
            elif key == "mode":
                kw["mode"] = MarginMode(value)
            elif key == "qty":
                kw["qty_base"] = float(value)
            elif key == "entry":
                kw["entry_price"] = float(value)
            elif key == "leverage":
                kw["leverage"] = float(value)
            elif key == "margin":
                kw["margin_usd"] = None if value is None else float(value)
            elif key != "notional":
                raise InvalidInputError(key, "is not a position field")
        if "notional" in changes:
            notional = float(changes["notional"])
            if not (notional > 0 and math.isfinite(notional)):
                raise InvalidInputError("notional", f"must be > 0, got {notional:g}")
            contract = self.profile.contract(kw.get("symbol", p.symbol))
            kw["qty_base"] = float(qty_from_quote_value(contract, notional, kw.get("entry_price", p.entry_price)))
        new = p.with_(**kw)
        if new == p:
            return
        positions[index] = new
        after = self._with_account(positions=tuple(positions))
        if new.entry_price != p.entry_price and new.symbol == p.symbol and self.account.mark_of(p) == p.entry_price:
            # a start mark the user never moved away from the entry follows it (no phantom uPnL)
            after = replace(after, account=after.account.with_mark(p.symbol, new.entry_price))
        if "symbol" in kw and kw["symbol"] != p.symbol and all(s != kw["symbol"] for s, _ in after.account.marks):
            after = replace(after, account=after.account.with_mark(kw["symbol"], new.entry_price))
        field = next(iter(changes)) if len(changes) == 1 else "+".join(sorted(changes))
        label = _FIELD_LABELS.get(field, field)
        self._push(commands.EditPosition, after, f"Set {label} of #{index + 1}",
                   merge_key=f"{index}.{field}" if merge else None)

    def rename(self, name: str) -> None:
        """Give the workspace a name (shown in the title, saved in the file); "" means untitled."""
        name = " ".join(str(name).split())
        if len(name) > 200:
            raise InvalidInputError("name", f"{len(name)} characters; allowed up to 200")
        if name == self.scenario.name:
            return
        self._push(commands.EditAccount, replace(self.scenario, name=name), "Rename workspace")

    def set_wallet(self, wallet: float) -> None:
        if wallet == self.scenario.account.wallet_usd:
            return
        self._push(commands.EditAccount, self._with_account(wallet_usd=float(wallet)), "Set wallet",
                   merge_key="wallet")

    def set_mark(self, symbol: str, mark: float) -> None:
        """The scenario's own mark (the feed restarts from it)."""
        m = float(mark)
        if not (m > 0 and math.isfinite(m)):
            raise InvalidInputError("mark", f"must be > 0, got {m:g}")
        if self.scenario.account.mark_of(next(p for p in self.account.positions if p.symbol == symbol)) == m:
            return
        after = replace(self.scenario, account=self.scenario.account.with_mark(symbol, m))
        self._push(commands.EditAccount, after, f"Set mark of {symbol}", merge_key=f"mark.{symbol}")

    def set_profile(self, profile_id: str) -> None:
        """Move the workspace to another exchange's rules; symbols map by base asset (BTCUSDT -> BTC)."""
        if profile_id == self.scenario.exchange:
            return
        target = self.profiles.get(profile_id)
        from core.compare import convert_account  # the Compare tab's module: not loaded at start-up

        try:
            map_account(self.scenario.account, target, source=self.profile)  # refuses linear <-> inverse
            # on the target's contracts; an inverse contract of another size keeps the USD value
            acct, _how = convert_account(self.scenario.account, self.profile, target, self.selected)
        except InvalidInputError as exc:
            raise InvalidInputError("exchange", exc.reason) from None
        after = replace(self.scenario, exchange=profile_id, account=acct)
        self._push(commands.EditAccount, after, f"Use {target.name}")

    def set_position_mode(self, mode: str) -> None:
        """One-way (one position per symbol) or hedge (a long and a short per symbol): an undoable edit.

        A mode the positions break (one-way with both legs of a symbol held) is refused with core's
        message (field ``position_mode``, naming the symbol and both positions); nothing changes.
        """
        new = PositionMode(mode)
        if new is self.scenario.account.position_mode:
            return
        words = "hedge mode" if new is PositionMode.HEDGE else "one-way mode"
        self._push(commands.EditAccount, self._with_account(position_mode=new), f"Use {words}")

    def new_position(self) -> tuple[Position, str]:
        """What Add appends, and a sentence saying what it is.

        What a trader expects of Add in each position mode:

        * hedge mode, the selected symbol held on one side only: its other leg (the same size,
          leverage and margin mode, opened at the symbol's start mark) -- hedging the position;
        * otherwise (one-way mode, or both legs held): a copy of the selected position on the first
          of the profile's contracts that the account does not hold yet and that settles in the
          account's asset (an account settles in one asset), at that symbol's start mark if the
          workspace has one, else at the selected entry, to be edited in the form.

        Raises InvalidInputError (field ``positions``) when every such contract is held already.
        """
        acct = self.scenario.account
        src = self.position
        if src is None:
            sym = self.profile.symbols[0]
            return (Position(symbol=sym, side=Side.LONG, qty_base=1.0, entry_price=self.live.live_mark, leverage=10.0),
                    f"a {sym} long")
        held = {(p.symbol, p.side) for p in acct.positions}
        if acct.position_mode is PositionMode.HEDGE and (src.symbol, src.side.opposite) not in held:
            start = acct.mark_of(src)
            leg = src.with_(side=src.side.opposite, entry_price=start, margin_usd=None)
            return leg, (f"the {leg.side.value} leg of {src.symbol} at its start mark {fmt.price(start, self.tick)} "
                         "(hedge mode: a long and a short on one symbol)")
        symbols = {p.symbol for p in acct.positions}
        asset = self.settle_ccy
        free = [sym for sym in self.profile.symbols if sym not in symbols and self.profile.contract(sym).settle == asset]
        if not free:
            mode = ("hedge mode holds one long and one short per symbol" if acct.position_mode is PositionMode.HEDGE
                    else "one-way mode holds one position per symbol; hedge mode adds the other leg")
            raise InvalidInputError("positions", f"every {self.profile.id} contract settling in {asset} is held "
                                                 f"already ({mode}); edit a position instead")
        sym = free[0]
        mark = next((m for s, m in acct.marks if s == sym), None)
        where = "its start mark" if mark is not None else "the selected entry (set its entry and size in the form)"
        return (src.with_(symbol=sym, entry_price=src.entry_price if mark is None else mark, margin_usd=None),
                f"a {src.side.value} {sym}, the next contract not held, at {where}")

    def add_position(self, position: Position | None = None) -> str:
        """Append ``position`` (default: :meth:`new_position`), select it, and say what was added.

        Raises InvalidInputError (nothing changes) when the account cannot hold it.
        """
        if position is None:
            src, what = self.new_position()
        else:
            src, what = position, f"a {position.side.value} {position.symbol}"
        positions = (*self.scenario.account.positions, src)
        after = self._with_account(positions=positions)
        if all(s != src.symbol for s, _ in after.account.marks):
            after = replace(after, account=after.account.with_mark(src.symbol, src.entry_price))
        self._push(commands.AddPosition, after, "Add position", selected=len(positions) - 1)
        return f"Added #{len(positions)}: {what}."

    def remove_position(self, index: int | None = None) -> None:
        i = self.selected if index is None else index
        positions = list(self.scenario.account.positions)
        if len(positions) <= 1:
            raise InvalidInputError("positions", "the workspace needs at least one position; edit it instead")
        del positions[i]
        after = self._without_position_actions(self._with_account(positions=tuple(positions)), i)
        self._push(commands.RemovePosition, after, f"Remove position #{i + 1}", selected=max(0, min(i, len(positions) - 1)))

    # ------------------------------------------------------------------ stop-loss / take-profit

    def orders(self, index: int | None = None) -> dict[str, float]:
        """The stop-loss / take-profit prices of a position, from the scenario's simulation actions.

        They live where the simulator reads them (``simulation.actions``, kind ``stop_loss`` /
        ``take_profit``), so the CLI's ``simulate`` plays the same orders the chart shows.
        """
        i = self.selected if index is None else index
        sim = self.scenario.simulation
        return {a.kind.value: a.value for a in (sim.actions if sim is not None else ())
                if a.kind in (ActionKind.STOP_LOSS, ActionKind.TAKE_PROFIT) and a.position == i}

    def set_order(self, kind: str, price: float | None, index: int | None = None, *, merge: bool = True) -> None:
        """Set (or with ``None`` remove) the position's stop-loss or take-profit at ``price``.

        ``merge=False``: one undo step of its own (a line dragged on the chart), else consecutive
        settings of the same order merge.

        A long's stop-loss must lie below its start mark and its take-profit above (a short mirrors);
        the message names the allowed range. Without a simulation section, one is created whose path
        is the GUI's feed (GBM from the start mark with the feed's volatility and seed).
        """
        if kind not in ("stop_loss", "take_profit"):
            raise InvalidInputError("kind", "expected stop_loss or take_profit")
        i = self.selected if index is None else index
        p = self.scenario.account.positions[i]
        mark = self.scenario.account.mark_of(p)
        if price is not None:
            price = float(price)
            below = (kind == "stop_loss") == (p.side is Side.LONG)
            name = "stop-loss" if kind == "stop_loss" else "take-profit"
            if not (math.isfinite(price) and price > 0) or (below and price >= mark) or (not below and price <= mark):
                rng = f"between 0 and {fmt.num(mark)}" if below else f"above {fmt.num(mark)}"
                raise InvalidInputError(kind, f"a {p.side.value}'s {name} must lie {rng} (the start mark), "
                                              f"got {fmt.num(price)}")
        if self.orders(i).get(kind) == price:
            return
        sim = self.scenario.simulation or self._feed_simulation(mark)
        actions = [a for a in sim.actions if not (a.kind == kind and a.position == i)]
        if price is not None:
            actions.append(Action(t=0.0, kind=ActionKind(kind), position=i, value=price))
        sim = replace(sim, actions=tuple(actions))
        label = "stop-loss" if kind == "stop_loss" else "take-profit"
        self._push(commands.EditAccount, replace(self.scenario, simulation=sim),
                   f"{'Set' if price is not None else 'Remove'} {label} of #{i + 1}",
                   merge_key=f"{i}.{kind}" if merge else None)

    def _feed_simulation(self, mark: float | None = None) -> SimulationSpec:
        """A simulation section whose path is the GUI's feed: GBM from the start mark (``mark``, else
        the selected position's), the feed's volatility and seed (made when a workspace first needs
        one: an order, a funding rate)."""
        return simulation_from_dict({
            "path": {"kind": "gbm", "s0": self._scenario_mark() if mark is None else mark, "sigma": self.live.feed.volatility, "dt": 1.0,
                     "n": 86_400, "seed": self.live.feed.seed}})

    def _without_position_actions(self, scenario: Scenario, removed: int) -> Scenario:
        """Drop the removed position's actions and renumber the later ones."""
        sim = scenario.simulation
        if sim is None or not sim.actions:
            return scenario
        kept = tuple(replace(a, position=a.position - 1) if a.position > removed else a
                     for a in sim.actions if a.position != removed)
        return replace(scenario, simulation=replace(sim, actions=kept))

    def select(self, index: int) -> None:
        """Selection is a view of the state, not an edit: it is not on the undo stack."""
        n = len(self.scenario.account.positions)
        if not 0 <= index < n or index == self.selected:
            return
        old_symbol = self.chart_symbol
        self.selected = index
        self._clear_preview(emit=True)
        if self.chart_symbol != old_symbol:
            self.live.reset(self._scenario_mark())
        self.requote()
        self.selectionChanged.emit(index)

    # ================================================================== what-if

    def preview(self, action: str, **params: Any) -> whatif.WhatIf:
        """Compute a what-if on the selected position at the current mark and show it as a preview.

        Raises InvalidInputError (the preview is cleared, nothing else changes).
        """
        if action not in WHATIF_ACTIONS:
            raise InvalidInputError("action", f"expected one of {', '.join(WHATIF_ACTIONS)}")
        if self.position is None:
            raise InvalidInputError("position", "select a position first")
        fn = WHATIF_ACTIONS[action][1]
        try:
            result = fn(self.profile, self.account_for_quote(), self.selected, **params)
        except InvalidInputError:
            self._clear_preview(emit=True)
            raise
        self.preview_result = result
        self.preview_action = action
        self._preview_params = dict(params)
        self.previewChanged.emit(result)
        return result

    def preview_liquidation_price(self, price: float, lever: str | None = None) -> whatif.WhatIf:
        """What puts the selected position's liquidation price at ``price`` (a dragged line), as a preview.

        :func:`core.lp_target.target_liquidation_price` by :attr:`target_lever` (or ``lever``);
        Apply (:meth:`apply_preview`) makes it real. Raises InvalidInputError with the reason a
        place cannot be reached (the preview is cleared).
        """
        return self.preview("target_liquidation", target=float(price), lever=lever or self.target_lever)

    def whatif_limits(self) -> dict[str, float]:
        """Bounds for the what-if controls, from core: free balance, removable margin, leverage cap;
        and the workspace's funding rate now and its interval (the hold page's defaults)."""
        out = {"free_balance": 0.0, "max_removable": 0.0, "max_leverage": 1.0, "qty": 0.0, "mark": 0.0,
               "funding_rate": self.funding.rate_at(self.live.feed.last_t), "funding_interval_h": self.funding_interval_h}
        p = self.position
        if p is None:
            return out
        acct = self.account_for_quote()
        out["free_balance"] = whatif.free_balance(self.profile, acct)
        if p.mode is MarginMode.ISOLATED:
            out["max_removable"] = whatif.max_removable_margin(self.profile, acct, self.selected)
        out["max_leverage"] = self.max_leverage()[0]
        out["qty"] = p.qty_base
        out["mark"] = acct.mark_of(p)
        return out

    def clear_preview(self) -> None:
        self._clear_preview(emit=True)

    def _clear_preview(self, *, emit: bool) -> None:
        had = self.preview_result is not None
        self.preview_result = None
        self.preview_action = ""
        if had and emit:
            self.previewChanged.emit(None)

    def apply_preview(self) -> None:
        """Make the previewed what-if an undoable command."""
        res = self.preview_result
        if res is None:
            raise InvalidInputError("what-if", "nothing to apply: preview a change first")
        label = WHATIF_ACTIONS[self.preview_action][0]
        f = res.funding
        if f is not None and f.liquidated_within:
            raise InvalidInputError("days", f"funding alone liquidates the position at payment "
                                            f"{f.liquidation_intervals:,} (day {f.liquidation_days:,.2f}), within the "
                                            f"{f.days:g} days held; hold fewer days")
        if self.live.funding_events:
            # The preview counts the funding the feed has booked, which the feed keeps over the
            # scenario (the plan): the change goes into the plan as it stands, and the feed's
            # funding stays on top of it, so that the window then shows what the preview showed.
            plan = self.account_for_quote().with_(positions=self.scenario.account.positions,
                                                  wallet_usd=self.scenario.account.wallet_usd)
            res = WHATIF_ACTIONS[self.preview_action][1](self.profile, plan, self.selected, **self._preview_params)
        # The preview was valued at the streamed mark; the scenario keeps its own marks.
        acct = res.account.with_(marks=self.scenario.account.marks)
        after = replace(self.scenario, account=acct)
        if res.position is None:
            after = self._without_position_actions(after, self.selected)
        n = len(acct.positions)
        sel = self.selected if res.position is not None else max(0, min(self.selected, n - 1))
        if n == 0:
            raise InvalidInputError("qty", "closing the last position leaves nothing to watch; close less "
                                           "than the whole size or add another position first")
        self.log("what-if", f"{label}: {self._delta_text(res)}")
        self._push(commands.ApplyWhatIf, after, label, selected=sel)

    def _delta_text(self, res: whatif.WhatIf) -> str:
        tick = self.tick
        if res.after is None:
            return "position closed"
        return (f"LP {fmt.price(res.before.liquidation_price, tick)} -> {fmt.price(res.after.liquidation_price, tick)}, "
                f"IM {self.money(res.before.initial_margin)} -> {self.money(res.after.initial_margin)}")

    # ================================================================== the feed's source (edits of the workspace)

    def reset_feed(self) -> None:
        """Back to the scenario's mark; liquidations and fills shown on the chart are cleared."""
        self.live.reset(self._scenario_mark())
        self.requote()
        self.log("feed", f"reset to {fmt.price(self.live.live_mark, self.tick)}")

    def load_price_csv(self, path: Path | str) -> None:
        """Replay a CSV of prices (``timestamp,price`` or OHLC) instead of the simulated feed."""
        n = self.live.load_price_csv(path)
        self.requote()
        self.log("feed", f"replaying {Path(path).name} ({n} points)")

    def use_simulated_feed(self, *, seed: int | None = None, volatility: float | None = None) -> None:
        self.live.use_simulated(s0=self._scenario_mark(), seed=seed, volatility=volatility)
        self.requote()

    # ================================================================== a whole new workspace

    def replace_workspace(self, scenario: Scenario, *, selected: int = 0) -> None:
        """Everything replaced by ``scenario``, undo history included (:class:`WorkspaceFile` calls it).

        Raises InvalidInputError and changes nothing when the scenario is refused.
        """
        self._check(scenario)
        self.live.pause()
        self.undo_stack.clear()
        self.scenario = scenario
        self.selected = min(max(selected, 0), max(len(scenario.account.positions) - 1, 0))
        self._clear_preview(emit=True)
        self.live.reset(self._scenario_mark())
        self.events.clear()
        self.requote()
        self.scenarioChanged.emit()
        self.selectionChanged.emit(self.selected)
        self.eventsChanged.emit()

    # ================================================================== event log

    def log(self, kind: str, detail: str) -> None:
        """One line in the workspace's event log (liquidations, fills, what-ifs applied, files)."""
        self.events.append(Event(time.strftime("%Y-%m-%dT%H:%M:%S"), self.live.feed.last_t, kind, detail))
        self.eventsChanged.emit()

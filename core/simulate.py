"""The liquidation waterfall played over a price path, with a double-entry ledger.

:func:`simulate` walks a :class:`~core.prices.PricePath` for one account under one exchange profile
and records what happens after the mark crosses the liquidation price (docs/domain.md §3-§4). This
module is the driver: it finds the next tick where something happens, runs the waterfall's stages
there (:func:`core.waterfall.liquidate`: margin check, trigger, cancelled orders, partial
liquidation, the fill in the book, settlement against the bankruptcy price, backstop, ADL), and
carries out the trader's scripted actions: ``add_margin`` (``margin_added``), ``change_leverage``
(``leverage_changed``), ``reduce`` (``position_reduced``), and ``stop_loss`` / ``take_profit``
orders (``order_placed``) that trigger on the **last** price (``stop_triggered`` then
``position_reduced``, :func:`core.orders.stop_hit`). Every action takes effect, refuses the run
naming ``simulation.actions[k]``, or says why not (``action_skipped``).

Speed: between events the state is constant, so the first tick where a scope could be liquidatable is
found with one numpy pass over the remaining path (equity minus MM as the mark moves, anchored on
the engine's values at the segment start) and only candidate ticks go through the engine.

Money: every balance change is a :class:`~core.ledger.Transfer` between two parties; the realised PnL
of every close is settled with ``market`` (all other traders), so the sum of balances never changes.

The scenario file's ``simulation`` section is read by :mod:`core.simspec`; the events and records
are defined in :mod:`core.simevents`; both are re-exported here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import fmt
from core.book import BookModel
from core.contracts import frame_price
from core.errors import InvalidInputError
from core.fees import with_fee_rates
from core.funding import funding_times
from core.ledger import PartyBalance, Transfer
from core.margin import contract_pnl, maintenance_margin
from core.model import Account, MarginMode, Position, Side
from core.orders import stop_hit
from core.prices import PricePath
from core.profiles import Contract, MMBasis, Profile
from core.quote import quote_account, validate_position
from core.scenario import Scenario
from core.simevents import (
    FEES,
    FUND,
    FUNDING,
    MARKET,
    SPOT,
    VAULT,
    WALLET,
    Event,
    EventKind,
    LiquidationRecord,
)
from core.simspec import (
    Action,
    ActionKind,
    Counterparty,
    FundingSpec,
    SimulationSpec,
    build_path,
    simulation_from_dict,
    simulation_to_dict,
)
from core.waterfall import (
    Order,
    Pos,
    RunState,
    adl_ranking,
    adl_score,
    contract_adl_ranking,
    liquidate,
    pay_funding,
    position_names,
    scope_state,
    settle_close,
    settle_party,
    verdict,
)

__all__ = [
    "FEES", "FUND", "FUNDING", "MARKET", "SPOT", "VAULT", "WALLET", "Action", "ActionKind", "Counterparty", "Event",
    "EventKind", "FundingSpec", "LiquidationRecord", "OpenPosition", "SimulationResult", "SimulationSpec",
    "adl_ranking", "adl_score", "build_path", "contract_adl_ranking", "position_names", "run_scenario", "simulate",
    "simulation_from_dict",
    "simulation_to_dict",
]


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """A position still open when the path ends; ``party`` holds its collateral."""

    label: str
    party: str
    side: Side
    qty: float
    entry: float
    mark: float = math.nan  # the mark at the path's last tick (the account's mark off the path)
    unrealized_pnl: float = math.nan  # at ``mark``, in the settle asset

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.label, "party": self.party, "side": self.side.value, "qty": self.qty,
                "entry": self.entry, "mark": self.mark, "unrealized_pnl": self.unrealized_pnl}


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Everything one run produced."""

    path: PricePath
    symbol: str
    profile_id: str
    events: tuple[Event, ...]
    transfers: tuple[Transfer, ...]
    parties: tuple[PartyBalance, ...]
    liquidations: tuple[LiquidationRecord, ...]
    open_positions: tuple[OpenPosition, ...] = ()
    tick_size: float = 0.01  # the contract's price tick, for rounding prices shown to people
    contract: Contract | None = None  # the path symbol's contract (None: a linear one, in USDT)

    @property
    def settle_asset(self) -> str:
        """The asset every amount of the run is in (an inverse contract's coin)."""
        return "USDT" if self.contract is None else self.contract.settle

    def events_of(self, kind: EventKind | str) -> tuple[Event, ...]:
        k = EventKind(kind)
        return tuple(e for e in self.events if e.kind is k)

    def party(self, name: str) -> PartyBalance:
        for p in self.parties:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def imbalance(self) -> float:
        """Sum of end balances minus sum of start balances: zero up to rounding, by construction."""
        return math.fsum(p.end for p in self.parties) - math.fsum(p.start for p in self.parties)

    def as_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` contract."""
        return {"symbol": self.symbol, "exchange": self.profile_id,
                "events": [e.as_dict() for e in self.events],
                "ledger": [tr.as_dict() for tr in self.transfers],
                "parties": [p.as_dict() for p in self.parties],
                "liquidations": [r.as_dict() for r in self.liquidations],
                "open_positions": [p.as_dict() for p in self.open_positions]}

    def summary(self) -> str:
        """A short account for people: the events, the five prices, who gained and lost."""
        asset = self.settle_asset

        def n(x: float) -> str:
            return fmt.amount(x, asset)

        def px(x: float) -> str:
            return fmt.price(x, self.tick_size)

        lines = [f"{self.profile_id} {self.symbol}: {len(self.path)} ticks, "
                 f"t = {self.path.t[0]:g} .. {self.path.t[-1]:g} s"]
        if not self.events:
            lines.append("Nothing happened: no trigger, no order, no action.")
        for e in self.events:
            price = "" if not math.isfinite(e.price) else f" @ {px(e.price)}"
            qty = f" qty {fmt.num(round(e.qty, 9))}" if e.qty else ""
            amt = f" amount {n(e.amount)}" if e.amount else ""
            note = f"  ({e.note})" if e.note else ""
            lines.append(f"  t={e.t:>10g}  {e.kind.value:<22} {e.position:<22} mark {px(e.mark)}"
                         f"{price}{qty}{amt}{note}")
        for r in self.liquidations:
            lines.append(f"  {r.kind} liquidation of {r.position} at t={r.t:g}: entry {px(r.entry_price)}, "
                         f"mark {px(r.mark_at_trigger)}, liquidation {px(r.liquidation_price)}, "
                         f"bankruptcy {px(r.bankruptcy_price)}, fill {px(r.fill_price)}")
        lines.append(f"Balances (start -> end, {asset}):")
        for p in self.parties:
            lines.append(f"  {p.name:<28} {n(p.start):>18} -> {n(p.end):>18}  ({'+' if p.change >= 0 else ''}"
                         f"{n(p.change)})")
        if self.open_positions:
            lines.append("Open at the end (uPnL at the last mark):")
            for o in self.open_positions:
                lines.append(f"  {o.label:<22} {fmt.num(round(o.qty, 9))} @ {px(o.entry)}, "
                             f"mark {px(o.mark)}, uPnL {n(o.unrealized_pnl)}")
            if any(o.party == WALLET for o in self.open_positions):
                upnl = math.fsum(o.unrealized_pnl for o in self.open_positions if o.party == WALLET)
                wallet = self.party(WALLET).end
                lines.append(f"  cross equity = wallet {n(wallet)} + uPnL {n(upnl)} = {n(wallet + upnl)}")
        lines.append(f"Money conserved: sum of changes = {n(self.imbalance)}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------- the driver


class _Driver:
    """Plays one run: the search for the next event, the waterfall there, the trader's actions."""

    def __init__(self, run: RunState, actions: Sequence[Action], funding: Sequence[tuple[float, float]] = ()) -> None:
        self.run = run
        self.t, self.mark, self.last = run.t, run.mark, run.last
        # what happens at a set time, in time order: the funding payments (each a (time, rate)), then
        # at the same time the trader's actions (each (k, action)); a funding time comes first
        self.schedule: list[tuple[float, int, int, Any]] = sorted(
            [(t, 0, k, rate) for k, (t, rate) in enumerate(funding)]
            + [(a.t, 1, k, a) for k, a in enumerate(actions)])

    # -- the vectorised search for the next event -------------------------------------------------

    def first_liquidation(self, a: int, b: int, *, skip_first: bool = False) -> tuple[int, str] | None:
        """First tick in [a, b) at which some scope wants liquidation or a backstop (engine-confirmed).

        ``skip_first``: tick ``a`` was already checked (before the trader's actions of that tick).
        """
        if a >= b:
            return None
        run = self.run
        aq, alive = run.quote(a)
        best: tuple[int, str] | None = None
        prices = self.mark[a:b]
        p0 = float(self.mark[a])
        tt = self.t[a:b]
        for key in run.scope_keys():
            e0, mm0, _ = scope_state(aq, alive, key)
            d_e = np.zeros(prices.shape)
            d_mm = np.zeros(prices.shape)
            for p in run.scope_positions(key):
                if not p.on_path:
                    continue
                # the PnL from the segment's start: entry p0 (additive in 1/P too, for an inverse contract)
                d_e += np.asarray(contract_pnl(p.contract, side=p.sign, qty=p.qty, entry=p0, exit_price=prices))
                if run.rules.mm_basis is MMBasis.MARK:
                    d_mm += np.asarray(self._mm_curve(p, prices)) - float(self._mm_curve(p, np.float64(p0)))
            eq = e0 + d_e
            mm = mm0 + d_mm
            tol = 1e-9 * (1.0 + abs(mm0) + abs(e0))
            sc = run.scope(key)
            mask = (eq - mm < tol)
            if skip_first:
                mask[0] = False
            if sc.cooldown_until > tt[0]:
                cool = tt < sc.cooldown_until
                frac = run.rules.backstop_mm_fraction
                bs = (eq - frac * mm < tol) if frac is not None else np.zeros(mask.shape, dtype=bool)
                mask &= (~cool) | bs
            limit = b if best is None else best[0]
            cand = np.flatnonzero(mask[: limit - a])
            for k in cand:
                j = a + int(k)
                aqj, alive_j = run.quote(j)
                if verdict(run, key, j, *scope_state(aqj, alive_j, key)):
                    if best is None or j < best[0]:
                        best = (j, key)
                    break
        return best

    def _mm_curve(self, p: Pos, prices: Any) -> Any:
        """The position's maintenance margin as the mark moves (engine's margin function, in the
        contract's linear frame: docs/domain.md §7)."""
        c = p.contract
        return maintenance_margin(qty=p.qty, price=frame_price(c.type, c.size, prices),
                                  tiers=self.run.profile.effective_tiers(p.symbol))

    def first_stop(self, a: int, b: int) -> int | None:
        """First tick in [a, b) at which a resting order fires (:func:`core.orders.stop_hit`)."""
        best: int | None = None
        for p in self.run.alive():
            if not p.on_path:
                continue
            for o in p.orders:
                k = stop_hit(o.kind, p.sign, o.price, self.last[a: (b if best is None else best)])
                if k is not None:
                    best = a + k
        return best

    def windowed(self, search: Any, a: int, b: int, **kw: Any) -> Any:
        """Run a vectorised search over [a, b) in windows that double from 4,096 ticks.

        One event costs numpy work proportional to the distance to it, not to the rest of the path,
        so many events on a long path stay cheap; a path with one event costs one pass overall.
        """
        w = 4096
        start = a
        while start < b:
            end = min(b, start + w)
            found = search(start, end, **kw)
            if found is not None:
                return found
            kw.pop("skip_first", None)  # only the very first tick may have been checked already
            start = end
            w *= 2
        return None

    # -- the loop -------------------------------------------------------------------------------

    def check_all(self, j: int) -> None:
        """The waterfall for every scope at tick ``j``."""
        self.run.now = float(self.t[j])
        for key in self.run.scope_keys():
            if self.run.scope_positions(key):
                liquidate(self.run, j, key)

    def play(self) -> None:
        n = len(self.t)
        sched = self.schedule
        # A scheduled item goes to the first tick at or after its time. A funding payment comes
        # before the margin check of that tick (at a time between two ticks, at the earlier tick's
        # prices). An action exactly on a tick comes after the liquidation engine's check there;
        # one between two ticks happened before the later tick, so it comes before that tick's
        # check, at the earlier tick's prices.
        slots = [int(np.searchsorted(self.t, item[0], side="left")) for item in sched]
        between = [bool(self.t[j] != item[0]) for j, item in zip(slots, sched, strict=True)]
        ptr = 0
        i = 0
        while i < n:
            while ptr < len(sched) and slots[ptr] == i and (between[ptr] or sched[ptr][1] == 0):
                self.do(i - 1 if between[ptr] else i, sched[ptr])
                ptr += 1
            checked = False
            if ptr < len(sched) and slots[ptr] == i:
                self.check_all(i)
                checked = True
                while ptr < len(sched) and slots[ptr] == i:
                    self.do(i, sched[ptr])
                    ptr += 1
            if not self.run.alive():
                break
            # The next event: the next scheduled item, the first order to fire, or the first liquidation.
            seg_end = slots[ptr] if ptr < len(sched) else n
            seg_end = min(max(seg_end, i + 1), n)
            j_stop = self.windowed(self.first_stop, i, seg_end)
            liq = self.windowed(self.first_liquidation, i, seg_end if j_stop is None else j_stop + 1,
                                skip_first=checked)
            j_liq = None if liq is None else liq[0]
            cands = [x for x in (j_stop, j_liq) if x is not None]
            if not cands:
                i = seg_end
                continue
            j = min(cands)
            self.check_all(j)  # the margin check comes first: a liquidation cancels the stops
            if j_stop == j and self.stops_at(j):
                self.check_all(j)  # a stop's market order can itself leave a scope liquidatable
            i = j + 1
        for q in range(ptr, len(sched)):  # every position is gone: each later action says so
            if sched[q][1] == 1:
                self.do(slots[q] - between[q], sched[q])

    def do(self, j: int, item: tuple[float, int, int, Any]) -> None:
        """One scheduled item at the prices of tick ``j``: a funding payment or a trader's action."""
        t, kind, k, what = item
        if kind == 0:
            self.run.now = t
            pay_funding(self.run, j, what)
        else:
            self.act(j, k, what)

    # -- the trader's actions -------------------------------------------------------------------

    def act(self, j: int, k: int, a: Action) -> None:
        """Carry out action ``k`` at its own time, at the prices of tick ``j``; an action whose
        position is already gone says so (``action_skipped``) instead of vanishing."""
        run = self.run
        run.now = a.t
        p = run.positions[a.position]
        if p.qty <= 0:
            run.event(j, EventKind.ACTION_SKIPPED, p.label, detail={"action": float(k)},
                      note=f"{a.kind.value}: {p.label} is already closed ({p.closed or 'before'})")
            return
        where = f"simulation.actions[{k}]"
        if a.kind is ActionKind.ADD_MARGIN:
            run.ledger.transfer(run.now, SPOT, p.party, a.value, f"add margin: {p.label}")
            run.event(j, EventKind.MARGIN_ADDED, p.label, amount=a.value,
                      detail={"balance_after": run.ledger.balance(p.party)})
        elif a.kind is ActionKind.CHANGE_LEVERAGE:
            self.change_leverage(j, p, a.value, where)
        elif a.kind is ActionKind.REDUCE:
            self.reduce(j, p, min(a.value, p.qty), "reduce")
        else:
            p.orders.append(Order(a.kind, a.value, a.qty))
            run.event(j, EventKind.ORDER_PLACED, p.label, price=a.value, qty=p.qty if a.qty is None else a.qty,
                      detail={"kind_sl": float(a.kind is ActionKind.STOP_LOSS)}, note=a.kind.value)

    def change_leverage(self, j: int, p: Pos, leverage: float, where: str) -> None:
        """Isolated: the margin becomes qty x entry / leverage, the difference from/to the wallet."""
        run = self.run
        old = p.leverage
        try:
            validate_position(run.profile, Position(symbol=p.symbol, side=p.side, qty_base=p.qty,
                                                    entry_price=p.entry, leverage=leverage, mode=p.mode))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}.leverage", exc.reason) from None
        delta = 0.0
        if p.mode is MarginMode.ISOLATED:
            delta = p.notional(p.entry) / leverage - p.notional(p.entry) / old
            wallet = run.ledger.balance(WALLET)
            if delta > wallet + 1e-9:
                raise InvalidInputError(f"{where}.leverage", f"{leverage:g}x needs {delta:,.2f} more margin but "
                                                             f"the wallet holds {wallet:,.2f}")
            if -delta >= run.ledger.balance(p.party):
                raise InvalidInputError(f"{where}.leverage",
                                        f"{leverage:g}x would take out more margin than the position holds")
            run.ledger.transfer(run.now, WALLET, p.party, delta, f"change leverage {old:g}x -> {leverage:g}x: {p.label}")
        p.leverage = leverage
        run.event(j, EventKind.LEVERAGE_CHANGED, p.label, qty=leverage, amount=delta, detail={"from": old})

    def reduce(self, j: int, p: Pos, qty: float, why: str) -> None:
        """A market order closing ``qty`` of ``p`` (taker fee), settled like any close
        (:func:`core.waterfall.settle_close`)."""
        run = self.run
        last_cross = p.mode is MarginMode.CROSS and qty >= p.qty and not any(
            o is not p and o.mode is MarginMode.CROSS for o in run.alive())
        settle_close(run, j, p, qty, float(run.position_quote(j, p).bankruptcy_price), run.rules.taker_fee, why,
                     EventKind.POSITION_REDUCED, {}, settles=p.mode is MarginMode.ISOLATED or last_cross)
        bal = run.ledger.balance(p.party)
        if p.qty == 0 and p.mode is MarginMode.ISOLATED and bal > 0:
            # a closed isolated position returns what is left of its margin to the wallet
            run.ledger.transfer(run.now, p.party, WALLET, bal, f"margin back to the wallet: {p.label} closed")
        else:
            # a close past bankruptcy is the fund's to cover, as in a liquidation (a cross wallet only
            # once its last position is gone)
            settle_party(run, j, p.party, p.label)
        if p.qty == 0 and p.orders:
            # the position is gone: its other orders have nothing left to close
            run.event(j, EventKind.ORDERS_CANCELLED, p.label, qty=float(len(p.orders)))
            p.orders.clear()

    def stops_at(self, j: int) -> bool:
        """Fire the orders whose trigger the last price has reached at tick ``j``; True if any fired."""
        run = self.run
        run.now = float(self.t[j])
        fired = False
        for p in run.alive():
            if not p.on_path:
                continue
            for o in list(p.orders):
                if stop_hit(o.kind, p.sign, o.price, self.last[j: j + 1]) is None:
                    continue
                p.orders.remove(o)
                fired = True
                qty = p.qty if o.qty is None else min(o.qty, p.qty)
                run.event(j, EventKind.STOP_TRIGGERED, p.label, price=o.price, qty=qty,
                          detail={"kind_sl": float(o.kind is ActionKind.STOP_LOSS)})
                self.reduce(j, p, qty, o.kind.value)
                if p.qty == 0:
                    break
        return fired


def simulate(profile: Profile, account: Account, path: PricePath, *, symbol: str | None = None,
             book: BookModel | None = None, insurance_fund: float = 0.0,
             counterparties: Sequence[Counterparty] = (), actions: Sequence[Action] = (),
             funding: FundingSpec | None = None) -> SimulationResult:
    """Play the liquidation waterfall for ``account`` over ``path`` (the path's symbol: ``symbol``).

    ``funding``: the rate per interval (constant or stepped); positions on the path's symbol pay
    it at every multiple of the interval (``funding.interval_h``, else the profile's) within the
    path, booked by the profile's rule (:func:`core.waterfall.pay_funding`, docs/domain.md §9.2).
    None: no funding. The account's own fee rates (``account.fees``) replace the profile's.

    Positions on other symbols stay at their account marks. Raises :class:`InvalidInputError` for an
    account the profile refuses (via :func:`core.quote.quote_account`) or an action that cannot be
    carried out (its field path named).

    Examples
    --------
    The source FAQ's 5 BTC long at 68,000, 10x, classic rules; the mark gaps to 61,500 (below the
    liquidation price 61,880 but above the bankruptcy price 61,200), the book fills at 61,500:
    the trader loses the 34,000 margin, the market takes 5 x 6,500 = 32,500, the fund 1,500.

    >>> from pathlib import Path
    >>> from core.profiles import load_profile
    >>> from core.paths import exchanges_dir
    >>> prof = load_profile(exchanges_dir() / "classic.toml")
    >>> pos = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=5, entry_price=68_000, leverage=10)
    >>> acct = Account(profile_id="classic", positions=(pos,))
    >>> res = simulate(prof, acct, PricePath.from_mark([0, 1], [68_000, 61_500]))
    >>> res.party("insurance_fund").end, res.party("trader.isolated.BTCUSDT").end
    (1500.0, 0.0)
    """
    if not account.positions:
        raise InvalidInputError("account.positions", "the simulation needs at least one position")
    profile = with_fee_rates(profile, account.fees)
    sym = symbol or account.positions[0].symbol
    try:
        profile.contract(sym)
    except InvalidInputError as exc:
        raise InvalidInputError("simulation.symbol" if symbol else "account.positions[0].symbol",
                                exc.reason) from None
    try:  # refuse what the exchange refuses, naming the position's field
        quote_account(profile, account.with_mark(sym, float(path.mark[0])))
    except InvalidInputError as exc:
        field_ = exc.field if exc.field.startswith("positions[") else f"positions[0].{exc.field}"
        raise InvalidInputError(f"account.{field_}", exc.reason) from None
    t0, t1 = float(path.t[0]), float(path.t[-1])
    for k, a in enumerate(actions):
        where = f"simulation.actions[{k}]"
        if not 0 <= a.position < len(account.positions):
            raise InvalidInputError(f"{where}.position", f"must be 0-{len(account.positions) - 1}, got {a.position}")
        if not t0 <= a.t <= t1:
            raise InvalidInputError(f"{where}.t", f"{a.t:g} s is {'before the start' if a.t < t0 else 'after the end'}"
                                                  f" of the path ({t0:g} .. {t1:g} s)")
        held = account.positions[a.position].symbol
        if a.kind in (ActionKind.STOP_LOSS, ActionKind.TAKE_PROFIT) and held != sym:
            raise InvalidInputError(f"{where}.position", f"position {a.position} is on {held}, whose price the "
                                                         f"path ({sym}) does not move: a {a.kind.value} order on "
                                                         f"it could never fire")
    names = [c.name for c in counterparties]
    if len(set(names)) != len(names):
        raise InvalidInputError("simulation.counterparties", "names must be unique")
    run = RunState(profile, account, path, symbol=sym, book=book or BookModel(), insurance_fund=insurance_fund,
                   counterparties=counterparties,
                   spot=math.fsum(a.value for a in actions if a.kind is ActionKind.ADD_MARGIN))
    schedule: list[tuple[float, float]] = []
    if funding is not None:
        interval_s = 3_600.0 * (funding.interval_h or profile.rules.funding_interval_h)
        schedule = [(float(t), funding.rate_at(float(t))) for t in funding_times(t0, t1, interval_s)]
    _Driver(run, actions, schedule).play()
    return SimulationResult(path=path, symbol=sym, profile_id=profile.id, events=tuple(run.events),
                            transfers=run.ledger.transfers, parties=run.ledger.parties(),
                            liquidations=tuple(run.records), tick_size=profile.contract(sym).tick_size,
                            contract=profile.contract(sym),
                            open_positions=tuple(_still_open(run, p) for p in run.alive()))


def _still_open(run: RunState, p: Pos) -> OpenPosition:
    """``p`` as the path leaves it, with its uPnL at the last mark (:meth:`RunState.upnl`)."""
    j = len(run.t) - 1
    return OpenPosition(p.label, p.party, p.side, p.qty, p.entry, run.mark_of(p, j), run.upnl(p, j))


def run_scenario(scenario: Scenario, profiles: Any, *, base_dir: Path | str | None = None) -> SimulationResult:
    """Run a :class:`core.scenario.Scenario`'s simulation section under its exchange profile.

    ``profiles`` is a :class:`core.profiles.ProfileSet` (or any mapping-like ``get(id)``);
    ``base_dir`` resolves a relative CSV file (the scenario file's folder).
    """
    if scenario.simulation is None:
        raise InvalidInputError("simulation", "missing: this scenario has no simulation section")
    spec = scenario.simulation  # validated when the scenario was read (core.scenario)
    profile = profiles.get(scenario.exchange)
    path = build_path(spec.path, base_dir=base_dir)
    return simulate(profile, scenario.account, path, symbol=spec.symbol, book=spec.book,
                    insurance_fund=spec.insurance_fund, counterparties=spec.counterparties,
                    actions=spec.actions, funding=spec.funding)

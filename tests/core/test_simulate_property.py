"""Over random scenarios on every shipped profile (inverse ones in contracts and coin, hedge legs in
hedge mode), with or without funding: money is conserved, a trader never loses more than the
collateral, no deleveraged counterparty ends below zero, and the insurance fund goes negative only
when no eligible counterparty was left to deleverage."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from core.book import BookModel
from core.errors import InvalidInputError
from core.ledger import replay
from core.model import Account, MarginMode, Position, PositionMode, Side
from core.paths import exchanges_dir
from core.prices import PricePath, gbm_path, time_grid
from core.profiles import load_profiles
from core.simspec import MAX_FUNDING_RATE
from core.simulate import (
    Action,
    ActionKind,
    Counterparty,
    EventKind,
    FundingSpec,
    contract_adl_ranking,
    position_names,
    simulate,
)

PROFILES = load_profiles([exchanges_dir()])
SYMBOL = {"classic": "BTCUSDT", "binance": "BTCUSDT", "bybit": "BTCUSDT", "hyperliquid": "BTC",
          "binance-coinm": "BTCUSD_PERP", "bybit-inverse": "BTCUSD", "bitmex": "XBTUSD"}
OTHER = {"binance": ("ETHUSDT", 1_000.0, 5_000.0), "binance-coinm": ("ETHUSD_PERP", 1_000.0, 5_000.0)}


@st.composite
def scenarios(draw):
    pid = draw(st.sampled_from(sorted(SYMBOL)))
    prof = PROFILES.get(pid)
    sym = SYMBOL[pid]
    contract = prof.contract(sym)
    # amounts are drawn in USD: an inverse contract sizes in contracts of `size` USD and settles in the
    # coin, so a quantity q (in BTC) at price P is q*P/size contracts and an amount A is A/P0 coins
    s0 = draw(st.floats(20_000, 100_000))
    cash = 1.0 / s0 if contract.is_inverse else 1.0

    def units(q: float, price: float, c=contract) -> float:
        return q * price / c.size if c.is_inverse else q

    n_pos = draw(st.integers(1, 3))
    positions = []
    marks = {}
    held: set[tuple[str, Side]] = set()  # at most one long and one short per symbol (hedge mode)
    for k in range(n_pos):
        # a later position may be on another symbol, off the path: it stays at its account mark
        other = pid in OTHER and k > 0 and draw(st.booleans())
        name, lo, hi = OTHER[pid] if other else (sym, 20_000.0, 100_000.0)
        side = draw(st.sampled_from([Side.LONG, Side.SHORT]))
        if (name, side) in held:
            side = side.opposite
        if (name, side) in held:
            continue
        held.add((name, side))
        entry = draw(st.floats(lo, hi)) if other or k > 0 else s0 * draw(st.floats(0.95, 1.05))
        positions.append(Position(
            symbol=name, side=side, qty_base=units(draw(st.floats(0.01, 60.0)), entry, prof.contract(name)),
            entry_price=entry, leverage=draw(st.floats(1.0, 40.0)),
            mode=draw(st.sampled_from([MarginMode.ISOLATED, MarginMode.CROSS]))))
        if other:
            marks[name] = positions[-1].entry_price * draw(st.floats(0.8, 1.2))
    wallet = draw(st.floats(0.0, 500_000.0)) * cash
    s0 = positions[0].entry_price * draw(st.floats(0.95, 1.05))
    n = draw(st.integers(5, 400))
    prices = gbm_path(s0=s0, mu=draw(st.floats(-0.5, 0.5)), sigma=draw(st.floats(0.001, 0.05)), dt=1.0, n=n,
                      seed=draw(st.integers(0, 2**31)))
    if draw(st.booleans()):  # a gap: one tick moves the price by up to 40 %, often past bankruptcy
        k = draw(st.integers(1, n))
        prices = prices.copy()
        prices[k:] *= draw(st.floats(0.6, 1.4))
    path = PricePath.from_mark(time_grid(n=n, dt=1.0), prices)
    depth = draw(st.one_of(st.just(math.inf), st.floats(0.1, 100.0)))
    if contract.is_inverse and math.isfinite(depth):
        depth = units(depth, s0)  # the book's depth is in the position's own units per 1 %
    book = BookModel(depth=depth, half_spread=draw(st.floats(0.0, 0.002)), max_slippage=draw(st.floats(0.005, 0.2)))
    fund = draw(st.one_of(st.just(0.0), st.floats(0.0, 200_000.0))) * cash
    cps = []
    for i in range(draw(st.integers(0, 3))):
        cp_entry = draw(st.floats(20_000, 100_000))
        cps.append(Counterparty(f"cp{i}", draw(st.sampled_from([Side.LONG, Side.SHORT])),
                                units(draw(st.floats(0.01, 50.0)), cp_entry), cp_entry,
                                draw(st.floats(100.0, 1e6)) * cash))
    actions = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(list(ActionKind)))
        # on a tick, or between two (the trader acts before the later tick's margin check)
        t = float(draw(st.one_of(st.integers(0, n), st.floats(0.0, float(n)))))
        pos = draw(st.integers(0, len(positions) - 1))
        if kind is ActionKind.ADD_MARGIN:
            value = draw(st.floats(1.0, 50_000.0)) * cash
        elif kind is ActionKind.CHANGE_LEVERAGE:
            value = draw(st.floats(1.0, 40.0))
        elif kind is ActionKind.REDUCE:
            value = units(draw(st.floats(0.001, 10.0)), s0)
        else:
            value = s0 * draw(st.floats(0.9, 1.1))
        actions.append(Action(t=t, kind=kind, position=pos, value=value))
    mode = PositionMode.HEDGE if len({p.symbol for p in positions}) < len(positions) else PositionMode.ONE_WAY
    # funding every 1-5 minutes of the path (so that a few payments fall inside it), or none
    funding = draw(st.one_of(st.none(), st.builds(
        FundingSpec, rate=st.floats(-MAX_FUNDING_RATE, MAX_FUNDING_RATE), interval_h=st.floats(1 / 60, 5 / 60))))
    return (prof, Account(profile_id=pid, wallet_usd=wallet, positions=tuple(positions), marks=marks,
                          position_mode=mode), path, book, fund, cps, actions, funding)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_money_is_conserved_and_traders_never_go_negative(sc):
    prof, acct, path, book, fund, cps, actions, funding = sc
    try:
        res = simulate(prof, acct, path, book=book, insurance_fund=fund, counterparties=cps, actions=actions,
                       funding=funding)
    except InvalidInputError:
        assume(False)  # a leverage the profile refuses, or a leverage change the wallet cannot pay
        return
    assert_fund_negative_only_without_counterparties(res, acct, cps)
    assert_every_action_is_seen(res, actions)
    for kind in sorted({e.kind.value for e in res.events}):
        event(kind)  # coverage of the waterfall's steps, shown by --hypothesis-show-statistics
    scale = 1.0 + math.fsum(abs(p.start) for p in res.parties) + math.fsum(tr.amount for tr in res.transfers)
    # by construction: sum of balances unchanged (up to float rounding of the sums)
    assert abs(res.imbalance) <= 1e-9 * scale
    rebuilt = replay({p.name: p.start for p in res.parties}, res.transfers)
    still_open = {p.party for p in res.open_positions}
    for p in res.parties:
        assert rebuilt[p.name] == pytest.approx(p.end, abs=1e-9 * scale)
        if p.name.startswith("adl."):
            # deleveraged at a price where it is still solvent (adl_ranking's close_price rule)
            assert p.end >= -1e-9 * scale, f"{p.name} was deleveraged below zero"
        if p.name.startswith("trader.") and p.name not in still_open:
            # once its positions are gone, a trader account is never below zero: the fund (or ADL)
            # paid any gap past bankruptcy
            assert p.end >= -1e-9 * scale, f"{p.name} lost more than its collateral"
    for tr in res.transfers:
        assert tr.amount > 0
        assert tr.src != tr.dst
    # every liquidation step names its five prices; entry and trigger mark are always known
    for r in res.liquidations:
        assert r.entry_price > 0 and r.mark_at_trigger > 0


CLOSES = (EventKind.LIQUIDATION_FILL, EventKind.PARTIAL_LIQUIDATION, EventKind.POSITION_REDUCED)


def assert_fund_negative_only_without_counterparties(res, acct, cps):
    """Replay the events: at every payout that leaves the fund below zero, no counterparty may be
    eligible (opposite side, size and margin left, in profit at the mark, solvent at the bankruptcy
    price of the close that left the gap) -- the simulator should have deleveraged it instead."""
    tol = 1e-9 * (1.0 + math.fsum(abs(p.start) for p in res.parties) + math.fsum(tr.amount for tr in res.transfers))
    qty = {c.name: c.qty for c in cps}
    margin = {c.name: c.margin for c in cps}
    labels = [label for label, _ in position_names(acct)]
    last_close = None  # (t, position label, bankruptcy price) of the last close of a trader position
    for e in res.events:
        if e.kind is EventKind.ADL:
            qty[e.position] -= e.qty
            margin[e.position] += e.amount
            last_close = (e.t, labels[int(e.detail["against"])], e.price)
        elif e.kind in CLOSES:
            last_close = (e.t, e.position, e.detail["bankruptcy_price"])
        elif e.kind is EventKind.INSURANCE_FUND_PAYOUT and e.detail["fund_after"] < -tol and cps:
            assert last_close is not None and last_close[0] == e.t
            _, label, bp = last_close
            if not math.isfinite(bp) or not label.startswith(res.symbol):
                continue  # the counterparties trade the path's symbol: a position on another has none
            _, _, eligible = contract_adl_ranking(
                res.contract, sides=[c.side.sign for c in cps], qtys=[max(qty[c.name], 0.0) for c in cps],
                entries=[c.entry for c in cps], margins=[margin[c.name] for c in cps], mark=e.mark,
                against=1 if label.endswith(" long") else -1, close_price=bp)
            # a counterparty off by less than a lot was used up as far as the lot allows
            open_cps = [c.name for c, ok in zip(cps, eligible, strict=True) if ok and qty[c.name] > 1e-6]
            assert not open_cps, f"the fund went to {e.detail['fund_after']:.2f} while {open_cps} could be deleveraged"


SEEN_AS = {ActionKind.ADD_MARGIN: {EventKind.MARGIN_ADDED}, ActionKind.CHANGE_LEVERAGE: {EventKind.LEVERAGE_CHANGED},
           ActionKind.REDUCE: {EventKind.POSITION_REDUCED, EventKind.ADL},
           ActionKind.STOP_LOSS: {EventKind.ORDER_PLACED}, ActionKind.TAKE_PROFIT: {EventKind.ORDER_PLACED}}


def assert_every_action_is_seen(res, actions):
    """No action vanishes: each has its own event at its own time, or an action_skipped naming it."""
    skipped = {int(e.detail["action"]) for e in res.events_of("action_skipped")}
    for k, a in enumerate(actions):
        if k in skipped:
            continue
        assert any(e.t == a.t and e.kind in SEEN_AS[a.kind] for e in res.events), f"action {k} left no trace"

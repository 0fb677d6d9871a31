"""Each stage of the liquidation waterfall on its own, over a small run state.

Notation as in test_simulate.py: the source FAQ's 5 BTC long @ 68,000, 10x, classic rules:
M = 34,000, MM = 3,400 (1 % of the entry value), LP = 61,880, BP = 61,200 (docs/domain.md §5).
"""
from __future__ import annotations

import dataclasses
import math

import pytest

from core.book import BookModel
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.prices import PricePath
from core.profiles import load_profiles
from core.simevents import FEES, FUND, MARKET, VAULT, WALLET, EventKind
from core.simspec import ActionKind, Counterparty
from core.waterfall import (
    Order,
    RunState,
    Verdict,
    adl_pool,
    backstop,
    backstop_if_below,
    cancel_orders,
    deleverage,
    fill_in_book,
    liability,
    liquidate,
    liquidate_whole,
    margin_check,
    partial_fraction,
    pay_shortfall,
    settle_close,
    settle_party,
    step_down,
    surplus_to_fund,
    trigger,
    verdict,
)

PROFILES = load_profiles([exchanges_dir()])
CLASSIC = PROFILES.get("classic")
BINANCE = PROFILES.get("binance")
HYPER = PROFILES.get("hyperliquid")
FAQ = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=5, entry_price=68_000, leverage=10)
ISO = "trader.isolated.BTCUSDT"
KEY = "BTCUSDT long"


def state(marks, positions=(FAQ,), profile=CLASSIC, *, wallet=0.0, book=None, fund=0.0, cps=(), spot=0.0,
          account_marks=None):
    acct = Account(profile_id=profile.id, wallet_usd=wallet, positions=tuple(positions), marks=account_marks or {})
    path = PricePath.from_mark([float(k) for k in range(len(marks))], [float(m) for m in marks])
    return RunState(profile, acct, path, symbol=positions[0].symbol, book=book or BookModel(),
                    insurance_fund=fund, counterparties=cps, spot=spot)


def kinds(run):
    return [e.kind.value for e in run.events]


# ------------------------------------------------------------------------------ 1. margin check


def test_margin_check_uses_the_engines_test_at_the_mark():
    run = state([68_000, 61_900, 61_500])
    assert margin_check(run, 0, KEY) is None
    assert margin_check(run, 1, KEY) is None  # 61,900 is above LP 61,880
    check = margin_check(run, 2, KEY)
    # equity 34,000 + 5 * (61,500 - 68,000) = 1,500 < MM 3,400
    assert check.verdict is Verdict.LIQUIDATE
    assert (check.equity, check.maintenance_margin) == (pytest.approx(1_500.0), pytest.approx(3_400.0))
    assert check.of(run.positions[0]).liquidation_price == pytest.approx(61_880.0)


def test_during_a_cooldown_only_the_backstop_acts():
    # Hyperliquid's backstop line is 2/3 of MM: with MM 60, equity 41 waits, equity 39 is backstopped.
    pos = Position(symbol="BTC", side=Side.LONG, qty_base=1, entry_price=100_000, leverage=20)
    run = state([100_000, 100_000], [pos], HYPER)
    run.scope("BTC long").cooldown_until = 1.0
    assert verdict(run, "BTC long", 0, 41.0, 60.0, True) is None
    assert verdict(run, "BTC long", 0, 39.0, 60.0, True) is Verdict.BACKSTOP
    assert verdict(run, "BTC long", 0, 39.0, 60.0, False) is None
    assert verdict(run, "BTC long", 1, 59.0, 60.0, True) is Verdict.LIQUIDATE  # the cooldown is over


# ----------------------------------------------------------------------- 2. trigger, cancel orders


def test_trigger_reports_the_engines_prices_and_cancel_orders_clears_them():
    run = state([68_000, 61_500])
    p = run.positions[0]
    p.orders += [Order(ActionKind.STOP_LOSS, 60_000.0, None), Order(ActionKind.TAKE_PROFIT, 75_000.0, 1.0)]
    members = trigger(run, 1, KEY, margin_check(run, 1, KEY))
    cancel_orders(run, 1, KEY, members)
    trig, cancelled = run.events
    assert (trig.kind, trig.price, trig.qty) == (EventKind.LIQUIDATION_TRIGGERED, pytest.approx(61_880.0), 5.0)
    assert trig.amount == pytest.approx(1_500.0 - 3_400.0)  # equity - MM
    assert trig.detail["bankruptcy_price"] == pytest.approx(61_200.0)
    assert trig.detail["unrealized_pnl"] == pytest.approx(-32_500.0)
    assert (cancelled.kind, cancelled.qty) == (EventKind.ORDERS_CANCELLED, 2.0)
    assert p.orders == []


# ------------------------------------------------------------------------------- 3. book fill


def test_fill_in_book_books_the_pnl_with_the_market_and_the_fee():
    # 5 BTC sold at 61,500 with a 0.3 % fee: PnL -32,500, fee 0.003 * 307,500 = 922.50;
    # the margin keeps 34,000 - 32,500 - 922.50 = 577.50.
    run = state([68_000, 61_500])
    run.now = 1.0  # the driver's clock: the tick's time
    p = run.positions[0]
    c = fill_in_book(run, 1, p, 5.0, 0.003, "liquidation fill")
    assert (c.qty, c.price, c.pnl, c.fee) == (5.0, 61_500.0, -32_500.0, pytest.approx(922.5))
    assert run.ledger.balance(ISO) == pytest.approx(577.5)
    assert run.ledger.balance(MARKET) == 32_500.0
    assert run.ledger.balance(FEES) == pytest.approx(922.5)
    assert p.qty == 0.0 and p.closed == "liquidation fill at t = 1 s"
    assert {tr.t for tr in run.ledger.transfers} == {1.0}


def test_the_fee_never_takes_more_than_is_left():
    # a 10 % fee would be 30,750; only the 1,500 left after the PnL can be taken
    run = state([68_000, 61_500])
    c = fill_in_book(run, 1, run.positions[0], 5.0, 0.1, "liquidation fill")
    assert c.fee == pytest.approx(1_500.0)
    assert run.ledger.balance(ISO) == pytest.approx(0.0)


def test_fill_in_book_is_immediate_or_cancel():
    # depth 1 BTC per 1 %, limit 1 %: 1 BTC fills at 61,500 * (1 - 0.005) = 61,192.50, 4 stay
    run = state([68_000, 61_500], book=BookModel(depth=1.0, max_slippage=0.01))
    c = fill_in_book(run, 1, run.positions[0], 5.0, 0.0, "liquidation fill")
    assert (c.qty, c.price) == (pytest.approx(1.0), pytest.approx(61_192.5))
    assert run.positions[0].qty == pytest.approx(4.0)


# ---------------------------------------------------------------- 5. settlement against bankruptcy


def test_liability_is_the_gap_past_bankruptcy():
    # sold at 60,000 below BP 61,200: 5 * 1,200 = 6,000; at 61,500, above BP: nothing
    run = state([68_000, 60_000, 61_500])
    p = run.positions[0]
    assert liability(run, 1, p, 5.0, 0.0, 61_200.0, 0.0, settles=True) == pytest.approx(6_000.0)
    assert liability(run, 2, p, 5.0, 0.0, 61_200.0, 0.0, settles=True) == 0.0
    # 0.833 in the book and 4.167 at BP: 0.833 * 1,200 = 999.60
    assert liability(run, 1, p, 0.833, 4.167, 61_200.0, 0.0, settles=True) == pytest.approx(999.6)


def test_settle_close_fills_in_the_book_when_the_fund_covers_the_gap():
    bob = Counterparty("bob", Side.SHORT, 5, 64_000, 5_000)
    run = state([68_000, 60_000], fund=6_000.0, cps=[bob])
    closed, price = settle_close(run, 1, run.positions[0], 5.0, 61_200.0, 0.0, "liquidation fill",
                                 EventKind.LIQUIDATION_FILL, {}, settles=True)
    assert (closed, price) == (5.0, 60_000.0)
    assert kinds(run) == ["liquidation_fill"]
    assert run.ledger.balance(ISO) == pytest.approx(-6_000.0)  # settled by the next stage


def test_settle_close_deleverages_what_the_fund_cannot_cover():
    # fund 1,000: the book takes 1,000 / 1,200 = 0.8333 -> 0.833 BTC, bob the 4.167 at 61,200
    bob = Counterparty("bob", Side.SHORT, 5, 64_000, 5_000)
    run = state([68_000, 60_000], fund=1_000.0, cps=[bob])
    closed, price = settle_close(run, 1, run.positions[0], 5.0, 61_200.0, 0.0, "liquidation fill",
                                 EventKind.LIQUIDATION_FILL, {}, settles=True)
    assert closed == pytest.approx(5.0) and price == 60_000.0
    fill, adl = run.events
    assert (fill.kind, fill.qty, fill.detail["bankruptcy_price"]) == (EventKind.LIQUIDATION_FILL, 0.833, 61_200.0)
    assert (adl.kind, adl.position, adl.qty, adl.price) == (EventKind.ADL, "bob", pytest.approx(4.167), 61_200.0)
    assert run.ledger.balance(ISO) == pytest.approx(-999.6)


def test_settle_close_without_counterparties_leaves_the_gap_to_the_fund():
    run = state([68_000, 60_000], fund=1_000.0)
    settle_close(run, 1, run.positions[0], 5.0, 61_200.0, 0.0, "liquidation fill",
                 EventKind.LIQUIDATION_FILL, {}, settles=True)
    pay_shortfall(run, 1, ISO, KEY)
    assert run.ledger.balance(FUND) == pytest.approx(-5_000.0)  # 1,000 - 6,000: shown, never hidden
    assert kinds(run) == ["liquidation_fill", "insurance_fund_payout"]


def test_surplus_to_fund_takes_what_is_left_and_pays_what_is_missing():
    run = state([68_000, 61_500])
    fill_in_book(run, 1, run.positions[0], 5.0, 0.0, "liquidation fill")
    surplus_to_fund(run, 1, ISO, KEY)  # 5 * (61,500 - 61,200) = 1,500
    assert run.ledger.balance(FUND) == pytest.approx(1_500.0) and run.ledger.balance(ISO) == 0.0
    assert run.events[-1].kind is EventKind.INSURANCE_FUND_INFLOW
    run = state([68_000, 60_000], fund=10_000.0)
    fill_in_book(run, 1, run.positions[0], 5.0, 0.0, "liquidation fill")
    surplus_to_fund(run, 1, ISO, KEY)
    assert run.ledger.balance(FUND) == pytest.approx(4_000.0) and run.ledger.balance(ISO) == 0.0
    assert run.events[-1].kind is EventKind.INSURANCE_FUND_PAYOUT


def test_a_cross_wallet_in_debt_is_settled_only_once_its_positions_are_gone():
    # A cross long 1 @ 68,000 and a cross short 1 @ 70,000 on a 100 wallet, mark 62,000. Closing
    # the long realises -6,000: the wallet is at -5,900, but the open short's +8,000 uPnL backs it,
    # so the fund pays nothing; closing the short brings the wallet back to 2,100.
    long_ = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=1, entry_price=68_000, leverage=10, mode=MarginMode.CROSS)
    short = Position(symbol="BTCUSDT", side=Side.SHORT, qty_base=1, entry_price=70_000, leverage=10,
                     mode=MarginMode.CROSS)
    run = state([62_000], [long_, short], wallet=100.0, fund=50_000.0)
    fill_in_book(run, 0, run.positions[0], 1.0, 0.0, "reduce")
    assert run.ledger.balance(WALLET) == pytest.approx(-5_900.0)
    settle_party(run, 0, WALLET, "cross")
    assert run.ledger.balance(FUND) == 50_000.0  # the short's +8,000 uPnL backs the debt
    aq, _ = run.quote(0)
    assert aq.cross_equity == pytest.approx(-5_900.0 + 8_000.0)  # the engine sees the debt
    fill_in_book(run, 0, run.positions[1], 1.0, 0.0, "reduce")
    settle_party(run, 0, WALLET, "cross")
    assert run.ledger.balance(WALLET) == pytest.approx(2_100.0)  # nothing to pay after all
    assert run.ledger.balance(FUND) == 50_000.0


# ------------------------------------------------------------------------------- 4. partials


def test_partial_fraction_closes_a_fifth_and_starts_the_cooldown():
    # test_simulate.py::test_hyperliquid_fraction_then_backstop_during_cooldown: at 96,150 the
    # 50 BTC position loses 10 BTC: 10 * (96,150 - 100,000) = -38,500; cooldown until t + 30.
    pos = Position(symbol="BTC", side=Side.LONG, qty_base=50, entry_price=100_000, leverage=20)
    run = state([100_000, 96_150], [pos], HYPER)
    check = margin_check(run, 1, "BTC long")
    partial_fraction(run, 1, "BTC long", run.scope_positions("BTC long"), check)
    (part,) = run.events
    assert (part.kind, part.qty, part.amount) == (EventKind.PARTIAL_LIQUIDATION, 10.0, pytest.approx(-38_500.0))
    assert part.detail["cooldown_until"] == 31.0  # t = 1
    sc = run.scope("BTC long")
    assert sc.partial_done and sc.cooldown_until == 31.0
    assert run.records[0].kind == "partial" and run.records[0].qty == 10.0


def test_step_down_sells_to_the_tier_floor_and_stops_when_compliant():
    # test_simulate.py::test_binance_tier_step_down_restores_compliance: 0.758 of 10 BTC at 64,920
    pos = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=10, entry_price=68_000, leverage=20)
    run = state([68_000, 64_920], [pos], BINANCE)
    assert step_down(run, 1, KEY, margin_check(run, 1, KEY)) is True
    (part,) = run.events
    assert part.qty == pytest.approx(0.758) and part.detail["target_notional"] == 600_000.0
    assert run.positions[0].qty == pytest.approx(9.242)


def test_step_down_gives_up_in_the_first_tier():
    # 0.5 BTC (34,000 notional) is in Binance's first tier: nothing to step down, liquidate whole
    pos = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=0.5, entry_price=68_000, leverage=50)
    run = state([68_000, 66_000], [pos], BINANCE)
    assert step_down(run, 1, KEY, margin_check(run, 1, KEY)) is False
    assert run.events == []


# -------------------------------------------------------------------------------- 6. backstop


def test_backstop_hands_the_positions_and_their_collateral_to_the_vault():
    pos = Position(symbol="BTC", side=Side.LONG, qty_base=40, entry_price=100_000, leverage=20)
    run = state([100_000, 95_400], [pos], HYPER)
    check = margin_check(run, 1, "BTC long")
    backstop(run, 1, "BTC long", run.scope_positions("BTC long"), check.of)
    (bs,) = run.events
    assert (bs.kind, bs.qty) == (EventKind.BACKSTOP, 40.0)
    assert run.ledger.balance(VAULT) == pytest.approx(200_000.0)  # 40 * 100,000 / 20
    assert run.alive() == [] and run.records[0].kind == "backstop" and math.isnan(run.records[0].fill_price)


def test_backstop_if_below_waits_above_the_line():
    # Hyperliquid MMR 1.25 %: 40 BTC at 95,800 -> MM 47,900; equity 200,000 - 168,000 = 32,000
    # is above 2/3 * 47,900 = 31,933: no backstop; at 95,790 equity 31,600 is below
    # 2/3 * 0.0125 * 3,831,600 = 31,930: backstop.
    pos = Position(symbol="BTC", side=Side.LONG, qty_base=40, entry_price=100_000, leverage=20)
    run = state([100_000, 95_800, 95_790], [pos], HYPER)
    backstop_if_below(run, 1, "BTC long")
    assert run.events == []
    backstop_if_below(run, 2, "BTC long")
    assert kinds(run) == ["backstop"]


# ------------------------------------------------------------------------------------- 7. ADL


def test_deleverage_closes_the_best_ranked_solvent_counterparty_first():
    # against the FAQ long at BP 61,200, mark 60,000 (derivations in test_simulate.py): bob (48)
    # outranks alice (13.5); dave is in profit at the mark but 61,200 is past his own BP 61,100.
    alice = Counterparty("alice", Side.SHORT, 3, 70_000, 10_000)
    bob = Counterparty("bob", Side.SHORT, 2, 64_000, 5_000)
    dave = Counterparty("dave", Side.SHORT, 5, 61_000, 500)
    run = state([68_000, 60_000], cps=[alice, bob, dave])
    p = run.positions[0]
    assert [c.spec.name for c, _ in adl_pool(run, p, 60_000.0, 61_200.0)] == ["bob", "alice"]
    left = deleverage(run, 1, p, 5.0, 61_200.0)
    assert [(e.position, e.qty) for e in run.events] == [("bob", 2.0), ("alice", 3.0)]
    assert left == 0.0 and p.qty == 0.0
    # bob realises 2 * (64,000 - 61,200), the trader 5 * (61,200 - 68,000) = -34,000: the margin
    assert run.ledger.balance("adl.bob") == pytest.approx(5_000 + 5_600.0)
    assert run.ledger.balance(ISO) == pytest.approx(0.0)


def test_deleverage_returns_what_nobody_could_take():
    bob = Counterparty("bob", Side.SHORT, 2, 64_000, 5_000)
    run = state([68_000, 60_000], cps=[bob])
    assert deleverage(run, 1, run.positions[0], 5.0, 61_200.0) == pytest.approx(3.0)
    assert run.positions[0].qty == pytest.approx(3.0)


def test_a_position_off_the_path_has_no_counterparties():
    eth = Position(symbol="ETHUSDT", side=Side.LONG, qty_base=10, entry_price=3_500, leverage=10)
    bob = Counterparty("bob", Side.SHORT, 5, 4_000, 5_000)
    run = state([68_000], [dataclasses.replace(FAQ, leverage=10), eth], BINANCE, cps=[bob],
                account_marks={"ETHUSDT": 3_000})
    assert adl_pool(run, run.positions[1], 3_000.0, 3_200.0) == []


# ------------------------------------------------------------------------- the whole, in order


def test_liquidate_whole_fills_then_settles():
    run = state([68_000, 61_500])
    liquidate_whole(run, 1, KEY)
    assert kinds(run) == ["liquidation_fill", "insurance_fund_inflow"]
    assert run.records[0].bankruptcy_price == pytest.approx(61_200.0)


def test_liquidate_runs_the_stages_in_the_waterfalls_order():
    run = state([68_000, 61_500])
    liquidate(run, 0, KEY)
    assert run.events == []  # 1. nothing to do at 68,000
    liquidate(run, 1, KEY)
    assert kinds(run) == ["liquidation_triggered", "orders_cancelled", "liquidation_fill", "insurance_fund_inflow"]

"""core.timeline without Qt: the timeline over a run, the changed scenarios, the fan.

Expected values come from ``core.simulate.run_scenario`` on the same file, from the engine's own
functions, or from a hand derivation written next to them (docs/domain.md section named).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.model import MarginMode
from core.paths import exchanges_dir, scenarios_dir
from core.profiles import load_profiles
from core.risk import liquidation_probability
from core.scenario import load_scenario
from core.simulate import Action, ActionKind, EventKind, run_scenario, simulation_from_dict
from core.timeline import (
    action_outcome,
    build_timeline,
    default_sigma,
    event_text,
    fan_spec,
    run_fan,
    run_timeline,
    validate_actions,
    with_actions,
    with_margin_mode,
)

LESSONS = sorted(p.name for p in scenarios_dir().glob("lesson-*.json"))


@pytest.fixture(scope="module")
def profiles():
    return load_profiles([exchanges_dir()])


def timeline_of(profiles, name: str, actions=None):
    path = scenarios_dir() / name
    sc = load_scenario(path)
    if actions is not None:
        sc = with_actions(sc, actions)
    res = run_scenario(sc, profiles, base_dir=path.parent)
    return build_timeline(sc, profiles.get(sc.exchange), res)


@pytest.mark.parametrize("name", LESSONS)
def test_sizes_and_balances_end_where_the_simulator_ends(profiles, name):
    tl = timeline_of(profiles, name)
    res = tl.result
    open_qty = {o.label: o.qty for o in res.open_positions}
    for tr in tl.tracks:
        assert tr.qty[-1] == pytest.approx(open_qty.get(tr.label, 0.0), abs=1e-9)
    end = tl.balances_at(tl.t_end)
    for p in res.parties:
        assert end[p.name] == pytest.approx(p.end, abs=1e-6)
        assert tl.balances_at(tl.t0, inclusive=False)[p.name] == p.start
    fund = next((p for p in res.parties if p.name == "insurance_fund"), None)
    if fund is not None:
        assert tl.fund_at(tl.t_end) == pytest.approx(fund.end, abs=1e-6)
    for t in tl.event_t:  # money is conserved at every event time
        assert math.fsum(tl.balances_at(float(t)).values()) == pytest.approx(math.fsum(p.start for p in res.parties))


def test_liquidation_line_steps_when_margin_is_added(profiles):
    (tr,) = timeline_of(profiles, "lesson-add-margin-in-time.json").tracks
    # docs/domain.md §5: 68,000 - (34,000 - 3,400) / 5 = 61,880; with 10,000 added at t = 30 the margin is
    # 44,000 and the liquidation price 68,000 - (44,000 - 3,400) / 5 = 59,880.
    assert tr.liquidation[tr.k_at(29.0)] == pytest.approx(61_880.0)
    assert tr.liquidation[tr.k_at(30.0)] == pytest.approx(59_880.0)
    assert tr.bankruptcy[tr.k_at(29.0)] == pytest.approx(61_200.0)  # 68,000 - 34,000 / 5
    x, y = tr.step_xy(tr.liquidation, 70.0)
    assert x[0] == 0.0 and x[-1] == 70.0 and set(np.round(y, 6)) == {61_880.0, 59_880.0}


def test_events_and_next_event_time(profiles):
    tl = timeline_of(profiles, "lesson-hyperliquid-large-position.json")
    assert tl.events_until(10.0) == 0 and tl.events_until(11.0) == 3  # trigger, cancel, partial at t = 11
    assert [e.kind for e in tl.events_at(19.0)] == [EventKind.LIQUIDATION_TRIGGERED, EventKind.ORDERS_CANCELLED,
                                                    EventKind.BACKSTOP]
    assert tl.next_event_time(0.0, +1) == 11.0 and tl.next_event_time(11.0, +1) == 19.0
    assert tl.next_event_time(19.0, +1) == tl.t_end and tl.next_event_time(11.0, -1) == tl.t0
    partial = tl.result.events[2]
    assert event_text(partial, tl.result.tick_size, tl.settle_asset) == "partial liquidation @ 96,150.0 qty 10 amount -38,500.00"


def test_adl_queue_before_the_adl_is_the_simulators_ranking(profiles):
    tl = timeline_of(profiles, "lesson-fund-exhausted-adl.json")
    (adl,) = tl.result.events_of(EventKind.ADL)
    queue = tl.adl_queue(adl.t, inclusive=False)
    assert queue[0].name == adl.position and queue[0].eligible
    assert queue[0].score == pytest.approx(adl.detail["rank_score"], rel=1e-12)
    # after it, bob's size is what the ADL left him and nobody is eligible (the long is closed)
    after = {row.name: row for row in tl.adl_queue(adl.t)}
    assert after["bob"].qty == pytest.approx(5 - adl.qty) and not any(r.eligible for r in after.values())


def test_odds_use_the_closed_form_at_the_tracks_liquidation_price(profiles):
    tl = timeline_of(profiles, "lesson-faq-crash.json")
    (o,) = tl.odds_at(0.0, sigma=0.8, horizon_s=86_400.0)
    assert o.liquidation_price == pytest.approx(61_880.0)  # docs/domain.md §5
    assert o.distance == pytest.approx(0.09)  # (68,000 - 61,880) / 68,000
    assert o.probability == pytest.approx(liquidation_probability(side=1, mark=68_000.0, liquidation_price=61_880.0,
                                                                  sigma=0.8, horizon=1 / 365))
    assert tl.odds_at(tl.t_end, sigma=0.8, horizon_s=86_400.0) == []  # liquidated at t = 61


def test_the_hedge_lessons_are_each_others_image_under_the_mode_change(profiles):
    iso = load_scenario(scenarios_dir() / "lesson-hedge-isolated.json")
    cross = load_scenario(scenarios_dir() / "lesson-hedge-cross.json")
    prof = profiles.get("classic")
    to_cross, note = with_margin_mode(iso, prof, MarginMode.CROSS)
    assert note == "" and to_cross.account.wallet_usd == pytest.approx(cross.account.wallet_usd)
    assert all(p.mode is MarginMode.CROSS for p in to_cross.account.positions)
    to_iso, note = with_margin_mode(cross, prof, MarginMode.ISOLATED)
    assert note == "" and to_iso.account.wallet_usd == pytest.approx(0.0, abs=1e-9)
    # 1 BTC at 68,000 and 50x: 1,360 of margin each (2,720 / 2)
    assert [p.margin_usd for p in to_iso.account.positions] == pytest.approx([1_360.0, 1_360.0])


def test_to_isolated_scales_the_margins_down_when_the_wallet_is_short(profiles):
    cross = load_scenario(scenarios_dir() / "lesson-hedge-cross.json")
    poor = replace(cross, account=cross.account.with_(wallet_usd=1_360.0))
    to_iso, note = with_margin_mode(poor, profiles.get("classic"), MarginMode.ISOLATED)
    assert "scaled to 50.0%" in note
    assert [p.margin_usd for p in to_iso.account.positions] == pytest.approx([680.0, 680.0])


def test_with_actions_replaces_only_the_actions():
    sc = load_scenario(scenarios_dir() / "lesson-add-margin-in-time.json")
    act = Action(t=12.5, kind=ActionKind.STOP_LOSS, position=0, value=64_000.0, qty=2.0)
    changed = with_actions(sc, [act])
    spec, before = changed.simulation, sc.simulation
    assert spec.actions == (act,) and replace(spec, actions=before.actions) == before
    assert sc.simulation.actions[0].value == 10_000  # the original is untouched


@pytest.mark.parametrize(("action", "field"), [
    (Action(t=-1.0, kind=ActionKind.ADD_MARGIN, position=0, value=1.0), "simulation.actions[0].t"),
    (Action(t=71.0, kind=ActionKind.ADD_MARGIN, position=0, value=1.0), "simulation.actions[0].t"),
    (Action(t=1.0, kind=ActionKind.ADD_MARGIN, position=1, value=1.0), "simulation.actions[0].position"),
    (Action(t=1.0, kind=ActionKind.ADD_MARGIN, position=0, value=0.0), "simulation.actions[0].value"),
    (Action(t=1.0, kind=ActionKind.CHANGE_LEVERAGE, position=0, value=0.5), "simulation.actions[0].value"),
    (Action(t=1.0, kind=ActionKind.STOP_LOSS, position=0, value=60_000.0, qty=0.0), "simulation.actions[0].qty"),
])
def test_validate_actions_names_the_field(action, field):
    with pytest.raises(InvalidInputError) as exc:
        validate_actions([action], n_positions=1, t_end=70.0)
    assert exc.value.field == field


def test_run_timeline_runs_the_file_and_both_modes(profiles):
    path = scenarios_dir() / "lesson-hedge-isolated.json"
    run = run_timeline(load_scenario(path), profiles, path.parent, ())
    direct = run_scenario(load_scenario(path), profiles)
    assert [e.as_dict() for e in run.timeline.result.events] == [e.as_dict() for e in direct.events]
    iso, cross = run.outcomes
    assert iso.mode is MarginMode.ISOLATED and cross.mode is MarginMode.CROSS
    assert iso.result is not None and iso.result.liquidations  # the lesson: isolated, one leg is liquidated
    assert cross.result is not None and not cross.result.liquidations  # cross: the hedge holds


def test_default_sigma_is_the_paths_own_for_gbm():
    sc = load_scenario(scenarios_dir() / "lesson-faq-crash.json")
    assert default_sigma(sc) == 0.8
    gbm = replace(sc, simulation=simulation_from_dict({"path": {"kind": "gbm", "s0": 68_000, "sigma": 0.35, "dt": 1, "n": 10}}))
    assert default_sigma(gbm) == 0.35


# ----------------------------------------------------------------------------------------- the fan


def test_fan_touches_the_liquidation_price_as_often_as_the_closed_form(profiles):
    tl = timeline_of(profiles, "lesson-faq-crash.json")
    n = 20_000
    spec = fan_spec(tl, 0.0, sigma=0.8, horizon_s=86_400.0, n_paths=n, n_steps=100, seed=3)
    assert spec.liquidation_price == pytest.approx(61_880.0) and spec.label == "BTCUSDT long"  # docs/domain.md §5
    seen: list[int] = []
    fan = run_fan(spec, progress=seen.append)
    assert fan is not None and seen == list(range(5, 101, 5))  # 20 chunks of 1,000 paths
    se = math.sqrt(fan.closed_form * (1 - fan.closed_form) / n)
    assert abs(fan.touch_fraction - fan.closed_form) < 5 * se
    assert fan.quantiles.shape == (5, 101) and (fan.quantiles[:, 0] == 68_000.0).all()
    assert np.all(np.diff(fan.quantiles, axis=0) >= 0)  # 5 % <= 25 % <= median <= 75 % <= 95 %
    again = run_fan(spec)
    assert again is not None and np.array_equal(again.quantiles, fan.quantiles)  # seeded


def test_a_cancelled_fan_stops_between_chunks(profiles):
    tl = timeline_of(profiles, "lesson-faq-crash.json")
    spec = fan_spec(tl, 0.0, sigma=0.8, horizon_s=86_400.0, n_paths=5_000, n_steps=10)
    seen: list[int] = []
    assert run_fan(spec, cancelled=lambda: len(seen) >= 2, progress=seen.append) is None
    assert seen == [20, 40]


def test_fan_without_an_open_position_has_no_barrier(profiles):
    tl = timeline_of(profiles, "lesson-faq-crash.json")
    spec = fan_spec(tl, tl.t_end, sigma=0.8, horizon_s=60.0, n_paths=10, n_steps=5)
    assert math.isnan(spec.liquidation_price) and spec.label == "(no open position)"
    fan = run_fan(spec)
    assert fan is not None and fan.touch_fraction == 0.0


@pytest.mark.parametrize(("kw", "field"), [
    ({"sigma": 0.0}, "volatility"), ({"sigma": 21.0}, "volatility"), ({"horizon_s": 0.0}, "horizon"),
    ({"n_paths": 0}, "paths"), ({"n_steps": 5_001}, "steps"), ({"n_paths": 1_000_000, "n_steps": 100}, "paths"),
])
def test_fan_inputs_are_refused_by_name(profiles, kw, field):
    tl = timeline_of(profiles, "lesson-faq-crash.json")
    args = {"sigma": 0.8, "horizon_s": 60.0, "n_paths": 10, "n_steps": 5} | kw
    with pytest.raises(InvalidInputError) as exc:
        fan_spec(tl, 0.0, **args)
    assert exc.value.field == field


# ------------------------------------------------------------------ what the ledger booked, per step


@pytest.mark.parametrize("name", LESSONS)
def test_steps_account_for_every_fund_flow_and_every_liquidated_lot(profiles, name):
    tl = timeline_of(profiles, name)
    res = tl.result
    fund = res.party("insurance_fund")
    booked = math.fsum(s.fund_inflow - s.fund_payout for s in tl.steps)
    assert booked == pytest.approx(fund.change, abs=1e-9)  # no fund flow in these lessons outside a step
    liquidated = math.fsum(math.fsum(f.qty for f in s.fills) + math.fsum(e.qty for e in s.adl) + s.backstop_qty
                           for s in tl.steps)
    assert liquidated == pytest.approx(math.fsum(r.qty for r in res.liquidations))  # the simulator's records
    assert [s.t for s in tl.steps] == [e.t for e in res.events_of(EventKind.LIQUIDATION_TRIGGERED)]


def test_a_partial_step_keeps_the_margin_with_the_position(profiles):
    tl = timeline_of(profiles, "lesson-hyperliquid-large-position.json")
    partial, backstop = tl.steps
    # the 10 BTC sold at 96,150 from 100,000 lose 38,500 of the 250,000 margin: 211,500 stay
    assert partial.kind == "partial liquidation" and partial.still_open and partial.fund_inflow == 0
    assert partial.margin_left == pytest.approx(211_500.0)
    assert partial.lines(1.0) == ["partial liquidation of BTC long at t = 11 s", "sold 10 @ 96,150 (bankruptcy 95,000)",
                                  "nothing to the fund; the position keeps 211,500.00"]
    assert backstop.kind == "backstop" and backstop.to_vault == pytest.approx(211_500.0)
    assert backstop.lines(1.0)[1:] == ["the liquidator vault took 40 with 211,500.00 of margin", "nothing to the fund"]
    assert tl.step_at(10.0) is None and tl.step_at(11.0) is partial and tl.step_at(60.0) is backstop


def test_the_adl_step_books_what_the_fund_paid_not_the_whole_gap(profiles):
    tl = timeline_of(profiles, "lesson-fund-exhausted-adl.json")
    (step,) = tl.steps
    # the fund's 1,000 covers the gap of 0.833 BTC sold at 60,000 against bankruptcy at 61,200:
    # 0.833 x 1,200 = 999.60; the other 4.167 BTC are closed against bob at 61,200
    assert step.fund_payout == pytest.approx(999.60)
    assert [(e.position, e.qty, e.price) for e in step.adl] == [("bob", pytest.approx(4.167), 61_200.0)]
    assert step.lines(0.1) == ["liquidation of BTCUSDT long at t = 60 s", "sold 0.833 @ 60,000.0 (bankruptcy 61,200.0)",
                               "ADL'd 4.167 @ 61,200.0 against bob", "gap past bankruptcy paid by the fund 999.60"]


def test_fees_and_a_surplus_are_what_the_ledger_booked(profiles):
    tl = timeline_of(profiles, "lesson-hedge-isolated.json")
    partial, whole = tl.steps
    res = tl.result
    (inflow,) = res.events_of(EventKind.INSURANCE_FUND_INFLOW)
    fees = [tr.amount for tr in res.transfers if tr.dst == "fees"]
    assert [partial.fees, whole.fees] == pytest.approx(fees)
    assert whole.fund_inflow == inflow.amount and f"surplus to the fund {inflow.amount:,.2f}" in whole.lines(0.1)


def test_an_inverse_runs_words_are_in_the_coin(profiles):
    tl = timeline_of(profiles, "lesson-inverse-long-accelerating.json")
    assert tl.settle_asset == "BTC"
    (step,) = tl.steps
    fill = tl.result.events_of(EventKind.LIQUIDATION_FILL)[0]
    # by hand: 1,000 contracts of 100 USD long from 60,000 at 5x put up 100,000 / 60,000 / 5 = 0.33333333
    # BTC; sold at the mark at t = 295 s, 52,000 - 2,000 x 55/60 = 50,166.67 (shown to the 0.1 tick), they
    # lose 100,000 x (1/50,166.67 - 1/60,000) = 1.99335548 - 1.66666667 = 0.32668882 BTC, and the 0.5 %
    # clearance fee on 1.99 BTC (0.00997) is capped at the 0.00664452 BTC left, so nothing reaches the
    # fund. At two decimals the fee would read 0.01 and the loss 0.33.
    assert step.lines(tl.result.tick_size) == ["liquidation of BTCUSD_PERP long at t = 295 s",
                                               "sold 1,000 @ 50,166.7 (bankruptcy 50,000.0)",
                                               "liquidation fee 0.00664452 BTC", "nothing to the fund"]
    assert step.fees == pytest.approx(1 / 3 - 100_000 * (3 / 150_500 - 1 / 60_000), rel=1e-12)
    assert event_text(fill, tl.result.tick_size, tl.settle_asset) == \
        "liquidation fill @ 50,166.7 qty 1,000 amount -0.32668882 BTC"
    # a linear run's amounts stay in cents without a unit (the lessons above)
    assert timeline_of(profiles, "lesson-fund-exhausted-adl.json").settle_asset == "USDT"


def test_the_queue_at_the_adl_is_the_one_the_simulator_ranked(profiles):
    tl = timeline_of(profiles, "lesson-fund-exhausted-adl.json")
    (adl,) = tl.result.events_of(EventKind.ADL)
    rows, events = tl.adl_queue_at(adl.t)
    assert events == (adl,) and rows[0].name == adl.position
    assert rows[0].score == pytest.approx(adl.detail["rank_score"], rel=1e-12)
    assert rows == tl.adl_queue(adl.t, inclusive=False)
    for t in (adl.t - 1, adl.t + 1):
        assert tl.adl_queue_at(t) == (tl.adl_queue(t), ())


# ------------------------------------------------------------------------ what an action did


def test_an_applied_action_is_matched_to_its_event(profiles):
    tl = timeline_of(profiles, "lesson-add-margin-in-time.json")
    (act,) = tl.scenario.simulation.actions
    out = action_outcome(tl, act)
    (added,) = tl.result.events_of(EventKind.MARGIN_ADDED)
    assert out.applied and out.event == added
    assert out.text == "add margin at t = 30 s: margin added at t = 30 s."


def test_an_action_after_the_position_is_gone_says_what_closed_it(profiles):
    late = Action(t=90.0, kind=ActionKind.ADD_MARGIN, position=0, value=8_500.0)
    tl = timeline_of(profiles, "lesson-faq-crash.json", [late])
    out = action_outcome(tl, late)
    (fill,) = tl.result.events_of(EventKind.LIQUIDATION_FILL)
    assert not out.applied and fill.t == 61.0
    assert out.text == ("add margin at t = 90 s had no effect (no margin added event in the run): "
                        "BTCUSDT long was already closed at t = 61 s (liquidation fill).")


def test_two_actions_of_a_kind_are_matched_in_time_order(profiles):
    first = Action(t=10.0, kind=ActionKind.ADD_MARGIN, position=0, value=1_000.0)
    second = Action(t=20.0, kind=ActionKind.ADD_MARGIN, position=0, value=2_000.0)
    tl = timeline_of(profiles, "lesson-faq-crash.json", [second, first])
    assert action_outcome(tl, first).event.amount == 1_000.0
    assert action_outcome(tl, second).event.amount == 2_000.0


def test_a_stop_order_is_matched_to_its_trigger_or_says_it_never_fired(profiles):
    # the lesson's mark slides from 68,000 at t = 0 to 61,000 at t = 70: 100 per second
    fires = Action(t=5.0, kind=ActionKind.STOP_LOSS, position=0, value=65_000.0)
    never = Action(t=5.0, kind=ActionKind.STOP_LOSS, position=0, value=50_000.0)
    tl = timeline_of(profiles, "lesson-add-margin-in-time.json", [fires])
    out = action_outcome(tl, fires)
    assert out.applied and out.event.t == 30.0  # 68,000 - 30 x 100 = 65,000
    # without the lesson's margin the position is liquidated at t = 62 (61,800 < 61,880), long before 50,000
    tl = timeline_of(profiles, "lesson-add-margin-in-time.json", [never])
    out = action_outcome(tl, never)
    assert not out.applied
    assert out.text == ("stop loss at 50,000.0 placed at t = 5 s never fired: BTCUSDT long was closed at t = 62 s "
                        "(liquidation fill) before the last price reached 50,000.0.")
    # with it (liquidation price 59,880) the position lives to the end at 61,000, above the stop
    margin = load_scenario(scenarios_dir() / "lesson-add-margin-in-time.json").simulation.actions
    tl = timeline_of(profiles, "lesson-add-margin-in-time.json", [*margin, never])
    assert action_outcome(tl, never).text == ("stop loss at 50,000.0 placed at t = 5 s never fired: the last price "
                                              "did not reach 50,000.0 while BTCUSDT long was open.")

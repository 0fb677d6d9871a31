"""Every shipped lesson runs, shows the events that make its point, and conserves money."""
from __future__ import annotations

import dataclasses
import itertools

import pytest

from core.ledger import replay
from core.margin import position_pnl_at_exit
from core.paths import exchanges_dir, scenarios_dir
from core.profiles import load_profiles
from core.quote import quote_account
from core.scenario import load_scenario
from core.simulate import run_scenario

PROFILES = load_profiles([exchanges_dir()])


def _quote(name):
    sc = load_scenario(scenarios_dir() / f"{name}.json")
    return quote_account(PROFILES.get(sc.exchange), sc.account)


def run(name, **sim_changes):
    sc = load_scenario(scenarios_dir() / f"{name}.json")
    if sim_changes:
        sc = dataclasses.replace(sc, simulation=dataclasses.replace(sc.simulation, **sim_changes))
    return sc, run_scenario(sc, PROFILES)


def kinds(res):
    return [e.kind.value for e in res.events]


def check_faq_crash(res):
    # docs/domain.md §5: LP 61,880, BP 61,200; fill 61,500 -> 5 * 300 = 1,500 surplus to the fund
    (rec,) = res.liquidations
    assert rec.liquidation_price == pytest.approx(61_880.0)
    assert rec.bankruptcy_price == pytest.approx(61_200.0)
    assert rec.fill_price == 61_500.0
    assert res.events_of("insurance_fund_inflow")[0].amount == pytest.approx(1_500.0)
    assert "insurance_fund_payout" not in kinds(res)


def check_gap(res):
    # fill 60,000 < BP 61,200: 5 * 1,200 = 6,000 paid by the fund, the trader loses exactly 34,000
    assert res.events_of("insurance_fund_payout")[0].amount == pytest.approx(6_000.0)
    assert res.party("trader.isolated.BTCUSDT").end == pytest.approx(0.0)
    assert "adl" not in kinds(res)


def check_adl(res):
    # derivation in tests/core/test_simulate.py::test_fund_exhausted_adl_ranked_counterparties
    adl = res.events_of("adl")
    assert [e.position for e in adl] == ["bob"]
    assert adl[0].price == pytest.approx(61_200.0)
    assert res.party("insurance_fund").end == pytest.approx(0.4)


def check_hyperliquid(res):
    # 20 % of 50 BTC at the first trigger, a 30 s cooldown, then the backstop before it ends
    part = res.events_of("partial_liquidation")
    assert len(part) == 1 and part[0].qty == pytest.approx(10.0)
    assert part[0].detail["cooldown_until"] == part[0].t + 30
    (bs,) = res.events_of("backstop")
    assert part[0].t < bs.t < part[0].t + 30
    assert res.party("liquidator_vault").end > 0
    assert "liquidation_fill" not in kinds(res)


def check_step_down(res):
    # derivation in tests/core/test_simulate.py::test_binance_tier_step_down_restores_compliance
    (part,) = res.events_of("partial_liquidation")
    assert part.qty == pytest.approx(0.758)
    assert "liquidation_fill" not in kinds(res)
    assert res.open_positions[0].qty == pytest.approx(9.242)


def check_hedge_isolated(res):
    # the story's prices, each leg's LP from its own 1,360 alone, by hand (binance BTCUSDT, mark basis,
    # tier 2 at either price: MMR 0.5 %, amount 50): long (68,000 - 1,360 - 50) / (1 - 0.005) = 66,924.62,
    # short (68,000 + 1,360 + 50) / (1 + 0.005) = 69,064.68
    lp = [round(q.liquidation_price, 2) for q in _quote("lesson-hedge-isolated").positions]
    assert lp == [66_924.62, 69_064.68]
    assert "liquidation_triggered" in kinds(res)
    assert res.party("trader.isolated.BTCUSDT#1").end == 0.0  # the long is gone
    assert res.party("trader.isolated.BTCUSDT#2").end == 1_360.0  # the short untouched


def check_hedge_cross(res):
    # one liquidation price for both cross legs: the PnL cancels, so equity stays 2,720 and the LP is
    # where the two legs' MM outgrows it: (2,720 + 50 + 50) / (0.5 % + 0.5 %) = 282,000 (docs/domain.md §8)
    a, b = _quote("lesson-hedge-cross").positions
    assert a.liquidation_price == b.liquidation_price == pytest.approx(282_000.0)
    assert (a.shares_lp_with, b.shares_lp_with) == ((1,), (0,))
    assert res.events == ()
    assert res.party("trader.wallet").end == 2_720.0


def check_wick(res):
    assert "liquidation_triggered" not in kinds(res)
    # the path really has a wick below bankruptcy in the last price while the mark stays above LP
    assert res.path.last.min() == 60_000.0
    assert res.path.mark.min() > 61_880.0


def check_add_margin(res):
    assert kinds(res) == ["margin_added"]
    assert res.party("trader.isolated.BTCUSDT").end == 44_000.0


def check_loss_vs_upnl(res):
    upnl = res.events_of("liquidation_triggered")[0].detail["unrealized_pnl"]
    iso = res.party("trader.isolated.BTCUSDT")
    assert iso.start - iso.end == pytest.approx(3_400.0)
    assert iso.start - iso.end > -upnl + 200  # noticeably more than the uPnL shown at the trigger


def check_funding_flat(res):
    # the story's numbers (docs/domain.md §9.3): 15 a payment out of a 1,000 margin, MM 120; the
    # 59th payment (t = 59 x 8 h) leaves 115 < 120 and the mark never moved from 60,000
    assert set(res.path.mark.tolist()) == {60_000.0}
    pays = res.events_of("funding_payment")
    assert len(pays) == 59 and all(e.amount == pytest.approx(15.0) for e in pays)
    (trig,) = res.events_of("liquidation_triggered")
    assert trig.t == 59 * 8 * 3_600 == pays[-1].t
    (rec,) = res.liquidations
    assert rec.liquidation_price == pytest.approx(60_010.0, abs=0.05) and rec.mark_at_trigger == 60_000.0
    assert res.party("funding").end == pytest.approx(885.0)
    assert res.party("fees").end == pytest.approx(90.0)
    assert res.party("insurance_fund").end == pytest.approx(25.0)
def check_inverse_long(res):
    # by hand (docs/domain.md §7, mark basis): 1,000 x 100 USD long from 60,000 at 5x, margin
    # 100,000 / (60,000 x 5) = 0.33333333 BTC; LP = 100,000 x 1.004 / (100,000/60,000 + 0.33333333) = 50,200
    (rec,) = res.liquidations
    assert rec.liquidation_price == pytest.approx(50_200.0)
    assert res.settle_asset == "BTC"
    iso = res.party("trader.isolated.BTCUSD_PERP")
    assert iso.start == pytest.approx(1 / 3) and iso.end == 0.0
    # the story's losses per 2,000 USD step, 100,000 x (1/P_before - 1/P_after), each larger than the last
    sc = load_scenario(scenarios_dir() / "lesson-inverse-long-accelerating.json")
    marks = [60_000, 58_000, 56_000, 54_000, 52_000, 50_000]
    pnl = [position_pnl_at_exit(PROFILES.get(sc.exchange), sc.account.positions[0], m) for m in marks]
    steps = [round(a - b, 5) for a, b in itertools.pairwise(pnl)]
    assert steps == [0.05747, 0.06158, 0.06614, 0.07123, 0.07692]
    assert all(f"{x:.5f}" in sc.description for x in steps)


CHECKS = {
    "lesson-funding-flat-price": check_funding_flat,
    "lesson-faq-crash": check_faq_crash,
    "lesson-gap-through-bankruptcy": check_gap,
    "lesson-fund-exhausted-adl": check_adl,
    "lesson-hyperliquid-large-position": check_hyperliquid,
    "lesson-tier-step-down": check_step_down,
    "lesson-hedge-isolated": check_hedge_isolated,
    "lesson-hedge-cross": check_hedge_cross,
    "lesson-wick-no-liquidation": check_wick,
    "lesson-add-margin-in-time": check_add_margin,
    "lesson-loss-bigger-than-upnl": check_loss_vs_upnl,
    "lesson-inverse-long-accelerating": check_inverse_long,
}


def test_every_lesson_file_has_a_check():
    assert {p.stem for p in scenarios_dir().glob("lesson-*.json")} == set(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_lesson(name):
    sc, res = run(name)
    assert sc.name and len(sc.description) > 200  # a one-paragraph story
    CHECKS[name](res)
    assert abs(res.imbalance) < 1e-6
    rebuilt = replay({p.name: p.start for p in res.parties}, res.transfers)
    for p in res.parties:
        assert rebuilt[p.name] == pytest.approx(p.end, abs=1e-6)


def test_the_margin_top_up_is_what_saves_the_position():
    _, res = run("lesson-add-margin-in-time", actions=())
    assert "liquidation_triggered" in kinds(res)


def test_the_fund_size_is_what_decides_adl():
    _, res = run("lesson-fund-exhausted-adl", insurance_fund=50_000)
    assert "adl" not in kinds(res)

"""The liquidation waterfall: golden runs whose numbers are derived by hand in the comments.

Notation: q size, EP entry, M isolated margin, BP = EP - M/q for a long (docs/domain.md §1),
realised PnL of a close = q * (fill - EP) for a long, settled with the party ``market``.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.book import BookModel
from core.errors import InvalidInputError
from core.ledger import replay
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.prices import PricePath, path_from_points, time_grid, with_last_wick
from core.profiles import PartialLiquidation, load_profiles
from core.simulate import Action, ActionKind, Counterparty, adl_ranking, adl_score, simulate

PROFILES = load_profiles([exchanges_dir()])
CLASSIC = PROFILES.get("classic")
BINANCE = PROFILES.get("binance")
HYPER = PROFILES.get("hyperliquid")

FAQ_POS = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=5, entry_price=68_000, leverage=10)
FAQ_ACCT = Account(profile_id="classic", positions=(FAQ_POS,))
ISO = "trader.isolated.BTCUSDT"


def kinds(res):
    return [e.kind.value for e in res.events]


def assert_conserved(res):
    assert abs(res.imbalance) < 1e-6
    opening = {p.name: p.start for p in res.parties}
    rebuilt = replay(opening, res.transfers)
    for p in res.parties:
        assert rebuilt[p.name] == pytest.approx(p.end, abs=1e-6)


def test_faq_crash_fill_better_than_bankruptcy_surplus_to_fund():
    # docs/domain.md §5: 5 BTC long @ 68,000, 10x, classic (entry-basis MM 1 % of 340,000 = 3,400):
    # M = 34,000, LP = 68,000 - (34,000 - 3,400)/5 = 61,880, BP = 68,000 - 34,000/5 = 61,200.
    # The mark gaps from 68,000 to 61,500 (< LP): liquidation at t=1, bottomless book fills at 61,500.
    # Realised: 5 * (61,500 - 68,000) = -32,500 to the market; left 34,000 - 32,500 = 1,500
    # = 5 * (61,500 - 61,200), the surplus over bankruptcy; classic charges no liquidation fee -> fund.
    res = simulate(CLASSIC, FAQ_ACCT, PricePath.from_mark([0, 1], [68_000, 61_500]))
    assert kinds(res) == ["liquidation_triggered", "orders_cancelled", "liquidation_fill", "insurance_fund_inflow"]
    fill = res.events_of("liquidation_fill")[0]
    assert (fill.price, fill.qty, fill.amount) == (61_500.0, 5.0, -32_500.0)
    assert res.events_of("insurance_fund_inflow")[0].amount == pytest.approx(1_500.0)
    assert res.party(ISO).start == 34_000.0
    assert res.party(ISO).end == 0.0
    assert res.party("market").end == 32_500.0
    assert res.party("insurance_fund").end == pytest.approx(1_500.0)
    (rec,) = res.liquidations
    assert (rec.entry_price, rec.mark_at_trigger, rec.fill_price) == (68_000.0, 61_500.0, 61_500.0)
    assert rec.liquidation_price == pytest.approx(61_880.0)
    assert rec.bankruptcy_price == pytest.approx(61_200.0)
    assert_conserved(res)


def test_faq_crash_with_a_liquidation_fee():
    # Same run, the profile charging a 0.3 % liquidation fee on the filled notional:
    # fee = 0.003 * 5 * 61,500 = 922.50 to `fees`; surplus 1,500 - 922.50 = 577.50 to the fund.
    prof = dataclasses.replace(CLASSIC, rules=dataclasses.replace(CLASSIC.rules, liquidation_fee=0.003))
    res = simulate(prof, FAQ_ACCT, PricePath.from_mark([0, 1], [68_000, 61_500]))
    assert res.party("fees").end == pytest.approx(922.5)
    assert res.party("insurance_fund").end == pytest.approx(577.5)
    assert res.events_of("liquidation_fill")[0].detail["fee"] == pytest.approx(922.5)
    assert_conserved(res)


def test_gap_through_bankruptcy_fund_pays():
    # The mark gaps to 60,000, below BP 61,200: fill 5 * (60,000 - 68,000) = -40,000 leaves
    # 34,000 - 40,000 = -6,000 = 5 * (60,000 - 61,200); the fund (50,000) pays 6,000 -> 44,000.
    res = simulate(CLASSIC, FAQ_ACCT, PricePath.from_mark([0, 1], [68_000, 60_000]), insurance_fund=50_000)
    assert "insurance_fund_payout" in kinds(res)
    assert res.events_of("insurance_fund_payout")[0].amount == pytest.approx(6_000.0)
    assert res.party("insurance_fund").end == pytest.approx(44_000.0)
    assert res.party(ISO).end == pytest.approx(0.0)
    assert res.party("market").end == pytest.approx(40_000.0)
    assert_conserved(res)


def test_fund_exhausted_adl_ranked_counterparties():
    # Same gap to 60,000 but the fund holds 1,000. Gap per BTC filled in the book: 61,200 - 60,000
    # = 1,200, so the fund covers 1,000 / 1,200 = 0.8333 BTC -> 0.833 (lot 0.001); the remaining
    # 4.167 BTC close at BP 61,200 against the shorts, best rank first (docs/domain.md §4.6):
    #   alice: short 3 @ 70,000, margin 10,000: PnL% = 30,000/10,000 = 3, BP 73,333.33,
    #          eff. lev = 60,000 / 13,333.33 = 4.5, score 13.5;
    #   bob:   short 5 @ 64,000, margin 5,000: PnL% = 20,000/5,000 = 4, BP 65,000,
    #          eff. lev = 60,000 / 5,000 = 12, score 48 -> bob first, and he has 5 >= 4.167.
    # bob realises 4.167 * (64,000 - 61,200) = 11,667.60; the trader: 0.833 * (60,000 - 68,000)
    # + 4.167 * (61,200 - 68,000) = -6,664 - 28,335.6 = -34,999.6, i.e. 999.60 below the margin,
    # which the fund pays (1,000 -> 0.40).
    cps = [Counterparty("alice", Side.SHORT, 3, 70_000, 10_000), Counterparty("bob", Side.SHORT, 5, 64_000, 5_000)]
    res = simulate(CLASSIC, FAQ_ACCT, PricePath.from_mark([0, 1], [68_000, 60_000]), insurance_fund=1_000,
                   counterparties=cps)
    adl = res.events_of("adl")
    assert [e.position for e in adl] == ["bob"]
    assert adl[0].qty == pytest.approx(4.167)
    assert adl[0].price == pytest.approx(61_200.0)
    assert adl[0].amount == pytest.approx(11_667.6)
    assert res.events_of("liquidation_fill")[0].qty == pytest.approx(0.833)
    assert res.party("adl.bob").end == pytest.approx(16_667.6)
    assert res.party("adl.alice").end == 10_000.0
    assert res.party("insurance_fund").end == pytest.approx(0.4)
    assert res.party(ISO).end == pytest.approx(0.0)
    assert_conserved(res)


def test_adl_score_ranks_as_domain_says():
    # see the derivation in test_fund_exhausted_adl_ranked_counterparties: 13.5 and 48
    s = adl_score(side=[-1, -1], qty=[3, 5], entry=[70_000, 64_000], mark=60_000, margin=[10_000, 5_000])
    assert s.tolist() == pytest.approx([13.5, 48.0])
    # a losing long: PnL% = -1,000/5,000 = -0.2, BP 61,000 - 5,000 = 56,000,
    # eff. lev 60,000/4,000 = 15 -> -0.2/15
    assert adl_score(side=1, qty=1, entry=61_000, mark=60_000, margin=5_000) == pytest.approx(-0.2 / 15)


HL_POS = Position(symbol="BTC", side=Side.LONG, qty_base=50, entry_price=100_000, leverage=20)
HL_ACCT = Account(profile_id="hyperliquid", positions=(HL_POS,))


def test_hyperliquid_fraction_then_backstop_during_cooldown():
    # Hyperliquid BTC: MMR = 1/(2*40) = 1.25 %, no fee. 50 BTC @ 100,000, 20x: M = 250,000,
    # LP = (5,000,000 - 250,000) / (50 * 0.9875) = 96,202.53.
    # t=11 mark 96,150 < LP, notional 4.8M > 100k -> 20 % = 10 BTC at 96,150: -38,500, M = 211,500;
    # cooldown until 41. t=20 mark 95,400: equity 211,500 + 40 * (95,400 - 100,000) = 27,500,
    # MM = 0.0125 * 40 * 95,400 = 47,700, 2/3 of it 31,800 > 27,500 -> backstop: the vault takes the
    # 40 BTC and the 211,500.
    res = simulate(HYPER, HL_ACCT, path_from_points([0, 10, 11, 20, 30], [100_000, 96_300, 96_150, 95_400, 95_400]))
    assert kinds(res) == ["liquidation_triggered", "orders_cancelled", "partial_liquidation",
                          "liquidation_triggered", "orders_cancelled", "backstop"]
    part = res.events_of("partial_liquidation")[0]
    assert (part.t, part.qty, part.amount) == (11.0, 10.0, -38_500.0)
    assert part.detail["cooldown_until"] == 41.0
    assert res.events_of("backstop")[0].t == 20.0
    assert res.party("liquidator_vault").end == pytest.approx(211_500.0)
    assert res.party("trader.isolated.BTC").end == 0.0
    assert res.liquidations[0].liquidation_price == pytest.approx(4_750_000 / 49.375)
    assert_conserved(res)


def test_hyperliquid_whole_after_cooldown():
    # As above, but the mark stops at 95,800: equity 211,500 - 40 * 4,200 = 43,500 < MM 47,900 yet
    # above 2/3 * 47,900 = 31,933: wait out the cooldown (t=20 and t=40 do nothing); at t=41 the
    # whole 40 BTC go: -168,000, leaving 43,500 to the fund.
    res = simulate(HYPER, HL_ACCT, path_from_points([0, 10, 11, 20, 40, 41, 50],
                                                    [100_000, 96_300, 96_150, 95_800, 95_800, 95_800, 95_800]))
    fills = res.events_of("liquidation_fill")
    assert [(e.t, e.qty, e.amount) for e in fills] == [(41.0, 40.0, -168_000.0)]
    assert res.party("insurance_fund").end == pytest.approx(43_500.0)
    assert "backstop" not in kinds(res)
    assert_conserved(res)


def test_hyperliquid_small_position_is_liquidated_whole():
    # 0.5 BTC @ 100,000 = 50k notional, below the 100k partial threshold: no partial, one fill.
    pos = dataclasses.replace(HL_POS, qty_base=0.5)
    res = simulate(HYPER, Account(profile_id="hyperliquid", positions=(pos,)),
                   path_from_points([0, 1], [100_000, 96_000]))
    assert "partial_liquidation" not in kinds(res)
    assert res.events_of("liquidation_fill")[0].qty == 0.5


def test_binance_tier_step_down_restores_compliance():
    # Binance BTCUSDT (mark basis): 10 BTC @ 68,000, 20x, M = 34,000; notional 680,000 is tier 3
    # (600k-3M, MMR 0.65 %, cum 950). LP = (680,000 - 34,000 - 950) / (10 * 0.9935) = 64,927.03.
    # Mark 64,920: equity 34,000 - 30,800 = 3,200 < MM 0.0065 * 649,200 - 950 = 3,269.80.
    # Step down to the tier floor 600,000: keep 600,000 / 64,920 = 9.24214 -> close 0.758 (lot up):
    # PnL 0.758 * (64,920 - 68,000) = -2,334.64, fee 0.3 % * 0.758 * 64,920 = 0.003 * 49,209.36 = 147.62808,
    # M = 34,000 - 2,334.64 - 147.62808 = 31,517.73192. The rest, 9.242 BTC: equity 31,517.73 - 9.242 * 3,080 = 3,052.37 > MM
    # 0.005 * 599,990.64 - 50 = 2,949.95 (tier 2): compliant, the remainder stays with the trader.
    pos = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=10, entry_price=68_000, leverage=20)
    res = simulate(BINANCE, Account(profile_id="binance", positions=(pos,)),
                   path_from_points([0, 1, 2], [68_000, 64_920, 64_920]))
    assert kinds(res) == ["liquidation_triggered", "orders_cancelled", "partial_liquidation"]
    part = res.events_of("partial_liquidation")[0]
    assert part.qty == pytest.approx(0.758)
    assert part.amount == pytest.approx(-2_334.64)
    assert part.detail["fee"] == pytest.approx(147.62808)
    assert res.party(ISO).end == pytest.approx(31_517.73192)
    assert res.liquidations[0].liquidation_price == pytest.approx(645_050 / 9.935)
    assert_conserved(res)


def test_wick_in_last_does_not_liquidate_but_hits_a_stop():
    # Mark flat at 68,000; the last price wicks to 60,000 (below BP 61,200) for 2 s. Liquidation
    # watches the mark: nothing happens. A stop-loss at 62,000 for 2.5 BTC watches the last price: it
    # fires at the wick (t=4) and the bottomless book closes at the wick price 60,000:
    # 2.5 * (60,000 - 68,000) = -20,000, taker fee 0.05 % * 2.5 * 60,000 = 75.
    base = PricePath.from_mark(time_grid(n=10, dt=1.0), [68_000.0] * 11)
    path = with_last_wick(base, t_start=4.0, duration=2.0, price=60_000.0)
    res = simulate(CLASSIC, FAQ_ACCT, path)
    assert res.events == ()
    stop = Action(t=0.0, kind=ActionKind.STOP_LOSS, position=0, value=62_000.0, qty=2.5)
    res = simulate(CLASSIC, FAQ_ACCT, path, actions=[stop])
    assert kinds(res) == ["order_placed", "stop_triggered", "position_reduced"]
    red = res.events_of("position_reduced")[0]
    assert (red.t, red.qty, red.price, red.amount) == (4.0, 2.5, 60_000.0, -20_000.0)
    assert red.detail["fee"] == pytest.approx(75.0)
    assert res.party(ISO).end == pytest.approx(34_000 - 20_000 - 75)
    assert "liquidation_triggered" not in kinds(res)
    assert_conserved(res)


def test_take_profit_on_last_for_a_short():
    # short 1 BTC @ 68,000 (classic, 10x, M 6,800); TP at 66,000 fires at the first last <= 66,000,
    # t=2 at 65,900, and closes there: +2,100, taker fee 0.05 % * 65,900 = 32.95; the whole position
    # closed -> margin 6,800 + 2,100 - 32.95 = 8,867.05 back to the wallet.
    pos = Position(symbol="BTCUSDT", side=Side.SHORT, qty_base=1, entry_price=68_000, leverage=10)
    tp = Action(t=0.0, kind=ActionKind.TAKE_PROFIT, position=0, value=66_000.0)
    res = simulate(CLASSIC, Account(profile_id="classic", positions=(pos,)),
                   path_from_points([0, 1, 2, 3], [68_000, 67_000, 65_900, 65_000]), actions=[tp])
    assert kinds(res) == ["order_placed", "stop_triggered", "position_reduced"]
    assert res.events_of("position_reduced")[0].amount == pytest.approx(2_100.0)
    assert res.party("trader.wallet").end == pytest.approx(6_800 + 2_100 - 0.0005 * 65_900)
    assert_conserved(res)


def test_adding_margin_in_time_moves_the_liquidation_away():
    # A linear crash 68,000 -> 61,000 over t = 0..70. Without help the mark passes LP 61,880.
    # Adding 10,000 at t=30 (from the trader's spot account): M = 44,000, LP = 68,000 - (44,000 -
    # 3,400)/5 = 59,880 < 61,000: no liquidation.
    path = path_from_points([0, 70], [68_000, 61_000], dt=1.0)
    res = simulate(CLASSIC, FAQ_ACCT, path)
    assert "liquidation_triggered" in kinds(res)
    add = Action(t=30.0, kind=ActionKind.ADD_MARGIN, position=0, value=10_000.0)
    res = simulate(CLASSIC, FAQ_ACCT, path, actions=[add])
    assert kinds(res) == ["margin_added"]
    assert res.party(ISO).end == 44_000.0
    assert res.party("trader.spot").end == 0.0
    assert_conserved(res)


def test_change_leverage_and_reduce():
    # Isolated 5 BTC @ 68,000 at 10x (M 34,000) with wallet 20,000; to 5x needs 340,000/5 - 34,000
    # = 34,000 more: refused (names the action). To 20x frees 17,000 to the wallet.
    acct = dataclasses.replace(FAQ_ACCT, wallet_usd=20_000.0)
    path = path_from_points([0, 10], [68_000, 68_000])
    with pytest.raises(InvalidInputError) as err:
        simulate(CLASSIC, acct, path, actions=[Action(t=1.0, kind=ActionKind.CHANGE_LEVERAGE, position=0, value=5.0)])
    assert err.value.field == "simulation.actions[0].leverage"
    res = simulate(CLASSIC, acct, path, actions=[
        Action(t=1.0, kind=ActionKind.CHANGE_LEVERAGE, position=0, value=20.0),
        Action(t=2.0, kind=ActionKind.REDUCE, position=0, value=1.0)])
    assert kinds(res) == ["leverage_changed", "position_reduced"]
    assert res.party("trader.wallet").end == pytest.approx(37_000.0)
    # reduce 1 BTC at 68,000: PnL 0, taker fee 0.05 % * 68,000 = 34
    assert res.party(ISO).end == pytest.approx(17_000.0 - 34.0)
    assert_conserved(res)


HEDGE = (Position(symbol="BTCUSDT", side=Side.LONG, qty_base=1, entry_price=68_000, leverage=50),
         Position(symbol="BTCUSDT", side=Side.SHORT, qty_base=1, entry_price=68_000, leverage=50))


def test_isolated_versus_cross_hedge():
    # Binance, a 1 BTC long and a 1 BTC short @ 68,000, 50x: 1,360 margin each.
    # Isolated: the long's LP = (68,000 - 1,360 - 50)/(1 * 0.995) = 66,926.63; a dip to 66,000
    # liquidates it although the short gained exactly what the long lost.
    # Cross: wallet 2,720, uPnLs cancel, MM ~ 2 * 0.5 % * 66,000 - 100 = 560: nothing happens.
    path = path_from_points([0, 60, 120], [68_000, 66_000, 68_000], dt=1.0)
    iso = simulate(BINANCE, Account(profile_id="binance", positions=HEDGE, position_mode="hedge"), path)
    assert "liquidation_triggered" in kinds(iso)
    assert iso.party("trader.isolated.BTCUSDT#1").end == 0.0
    assert iso.party("trader.isolated.BTCUSDT#2").end == 1_360.0
    cross_pos = tuple(dataclasses.replace(p, mode=MarginMode.CROSS) for p in HEDGE)
    cross = simulate(BINANCE, Account(profile_id="binance", wallet_usd=2_720.0, positions=cross_pos,
                                      position_mode="hedge"), path)
    assert cross.events == ()
    assert cross.party("trader.wallet").end == 2_720.0
    assert_conserved(iso)


def test_cross_liquidation_loses_the_shared_collateral():
    # Cross wallet 10,000 backing a 5 BTC long @ 68,000 (classic, entry basis, MM 3,400):
    # LP = 68,000 - (10,000 - 3,400)/5 = 66,680, BP = 66,000. Gap to 66,500: fill 5 * -1,500 =
    # -7,500, the 2,500 left goes to the fund; the trader's wallet is empty.
    pos = dataclasses.replace(FAQ_POS, mode=MarginMode.CROSS)
    res = simulate(CLASSIC, Account(profile_id="classic", wallet_usd=10_000.0, positions=(pos,)),
                   PricePath.from_mark([0, 1], [68_000, 66_500]))
    assert res.party("trader.wallet").end == 0.0
    assert res.party("insurance_fund").end == pytest.approx(2_500.0)
    assert res.liquidations[0].bankruptcy_price == pytest.approx(66_000.0)
    assert res.liquidations[0].liquidation_price == pytest.approx(66_680.0)
    assert_conserved(res)


def test_thin_book_partial_fill_then_retried():
    # depth 1 BTC per 1 %, IOC 1 %: only 100 * 1 * 0.01 = 1 BTC fills per tick, at 61,500 * 0.995
    # = 61,192.5 on average; the rest stays open and is retried on the next ticks.
    book = BookModel(depth=1.0, max_slippage=0.01)
    res = simulate(CLASSIC, FAQ_ACCT, path_from_points([0, 1, 2, 3, 4, 5, 6], [68_000] + [61_500] * 6),
                   book=book, insurance_fund=10_000)
    fills = res.events_of("liquidation_fill")
    assert [e.qty for e in fills] == pytest.approx([1.0] * 5)
    assert fills[0].price == pytest.approx(61_192.5)
    assert res.party(ISO).end == pytest.approx(0.0)
    assert_conserved(res)


def test_loss_bigger_than_the_upnl_seen():
    # Binance 1 BTC @ 68,000, 20x (M 3,400). The trader last saw uPnL at the trigger mark; the
    # liquidation fills lower in a thin book and the fee takes the rest: the realised loss is the
    # whole 3,400, more than |uPnL| at the trigger.
    pos = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=1, entry_price=68_000, leverage=20)
    res = simulate(BINANCE, Account(profile_id="binance", positions=(pos,)),
                   path_from_points([0, 400], [68_000, 64_000], dt=1.0), book=BookModel(depth=2.0))
    trig = res.events_of("liquidation_triggered")[0]
    upnl = trig.detail["unrealized_pnl"]
    loss = res.party("trader.isolated.BTCUSDT").start - res.party("trader.isolated.BTCUSDT").end
    assert loss == pytest.approx(3_400.0)
    assert loss > -upnl
    assert res.liquidations[0].fill_price < res.liquidations[0].mark_at_trigger
    assert_conserved(res)


def test_bad_inputs_are_refused_with_the_field():
    with pytest.raises(InvalidInputError) as err:
        simulate(CLASSIC, FAQ_ACCT, PricePath.from_mark([0, 1], [1, 1]),
                 actions=[Action(t=0.0, kind=ActionKind.REDUCE, position=3, value=1.0)])
    assert err.value.field == "simulation.actions[0].position"
    with pytest.raises(InvalidInputError, match="leverage"):
        simulate(CLASSIC, Account(profile_id="classic", positions=(dataclasses.replace(FAQ_POS, leverage=120),)),
                 PricePath.from_mark([0, 1], [1, 1]))


def test_the_trigger_is_found_at_the_exact_tick_on_a_long_path():
    # 200,001 ticks of a straight line from 68,000 down to 58,000 (step 0.05): the trigger must be
    # the first tick whose mark is below LP 61,880, and the tick before must not be below it.
    n = 200_000
    marks = 68_000 - 0.05 * np.arange(n + 1)
    res = simulate(CLASSIC, FAQ_ACCT, PricePath.from_mark(time_grid(n=n, dt=1.0), marks))
    trig = res.events_of("liquidation_triggered")[0]
    k = int(trig.t)
    assert marks[k] < 61_880.0
    assert marks[k - 1] >= 61_880.0 - 1e-6
    assert abs(k - (68_000 - 61_880) / 0.05) <= 1


def test_adl_skips_losing_counterparties_and_the_fund_may_go_negative():
    # carol is short from 58,000: at the mark 60,000 she is losing, so ADL may not close her. With no
    # eligible counterparty the whole 5 BTC fill at 60,000 and the fund pays the 6,000 gap out of
    # its 1,000: it ends at -5,000 (shown, never hidden), and the trader still loses only 34,000.
    cps = [Counterparty("carol", Side.SHORT, 10, 58_000, 50_000)]
    res = simulate(CLASSIC, FAQ_ACCT, PricePath.from_mark([0, 1], [68_000, 60_000]), insurance_fund=1_000,
                   counterparties=cps)
    assert "adl" not in kinds(res)
    assert res.party("adl.carol").end == 50_000.0
    assert res.party("insurance_fund").end == pytest.approx(-5_000.0)
    assert res.party(ISO).end == pytest.approx(0.0)
    assert_conserved(res)


def test_cross_liquidation_closes_a_position_on_another_symbol_at_its_own_mark():
    # Binance rules without the tier step-down, cross wallet 3,000: BTC long 1 @ 68,000 (20x) on the
    # path, ETH long 10 @ 3,500 (20x) held at its account mark 3,400 (uPnL -1,000). BTC gaps to
    # 64,000 (uPnL -4,000): equity 3,000 - 5,000 < 0, far below MM, so both go; BTC fills at 64,000
    # and ETH at 3,400, its own mark.
    positions = (Position(symbol="BTCUSDT", side=Side.LONG, qty_base=1, entry_price=68_000, leverage=20,
                          mode=MarginMode.CROSS),
                 Position(symbol="ETHUSDT", side=Side.LONG, qty_base=10, entry_price=3_500, leverage=20,
                          mode=MarginMode.CROSS))
    acct = Account(profile_id="binance", wallet_usd=3_000.0, positions=positions, marks={"ETHUSDT": 3_400.0})
    prof = dataclasses.replace(BINANCE, rules=dataclasses.replace(BINANCE.rules,
                                                                 partial_liquidation=PartialLiquidation.NONE))
    res = simulate(prof, acct, PricePath.from_mark([0, 1], [68_000, 64_000]), insurance_fund=10_000)
    fills = {e.position: (e.price, e.qty, e.amount) for e in res.events_of("liquidation_fill")}
    assert fills["BTCUSDT long"] == (64_000.0, 1.0, -4_000.0)
    assert fills["ETHUSDT long"] == (3_400.0, 10.0, -1_000.0)
    # wallet 3,000 - 5,000 = -2,000 -> the fund pays 2,000; no liquidation fee is left to take
    assert res.party("insurance_fund").end == pytest.approx(8_000.0)
    assert res.party("trader.wallet").end == pytest.approx(0.0)
    assert_conserved(res)


# ------------------------------------------------------------- the gap past bankruptcy: fund or ADL

BIG_LONG = Position(symbol="BTCUSDT", side=Side.LONG, qty_base=50, entry_price=68_000, leverage=20)
BOB = Counterparty("bob", Side.SHORT, 100, 70_000, 1_000_000)


@pytest.mark.parametrize("pid", ["classic", "binance"])
def test_step_down_past_bankruptcy_deleverages_instead_of_overdrawing_the_fund(pid):
    # 50 BTC long @ 68,000, 20x: M = 170,000, BP = 68,000 - 170,000 / 50 = 64,600 (no close fee on
    # either profile). The mark gaps to 60,000: every BTC sold in the book leaves 4,600 past
    # bankruptcy, and the fund holds 0. bob (short 100 @ 70,000, margin 1,000,000) is in profit at
    # 60,000 and solvent at 64,600, so every BTC the fund cannot cover closes against him at 64,600:
    # he realises 50 * (70,000 - 64,600) = 270,000 and the trader exactly her 170,000. Binance's
    # tier step-down sells 0.001 first (the notional sits on a tier floor), then steps down tier by
    # tier: each step goes through the same settle-or-deleverage rule as the whole liquidation, so
    # the fund never pays what bob can take (before the fix it ended at -223,336.18).
    prof = PROFILES.get(pid)
    res = simulate(prof, Account(profile_id=pid, positions=(BIG_LONG,)),
                   PricePath.from_mark([0, 1], [68_000, 60_000]), insurance_fund=0.0, counterparties=[BOB])
    adl = res.events_of("adl")
    assert {e.position for e in adl} == {"bob"}
    assert all(e.price == pytest.approx(64_600.0) for e in adl)
    assert sum(e.qty for e in adl) == pytest.approx(50.0)
    assert res.party("insurance_fund").end == pytest.approx(0.0, abs=1e-6)
    assert "insurance_fund_payout" not in kinds(res)
    assert res.party("adl.bob").end == pytest.approx(1_270_000.0)
    assert res.party(ISO).end == pytest.approx(0.0, abs=1e-6)
    assert_conserved(res)


HL_BIG = Position(symbol="BTC", side=Side.LONG, qty_base=50, entry_price=100_000, leverage=20)
HL_BOB = Counterparty("bob", Side.SHORT, 100, 100_000, 1_000_000)


def test_fraction_partial_past_bankruptcy_deleverages_what_the_fund_cannot_cover():
    # Hyperliquid, 50 BTC @ 100,000, 20x: M = 250,000, BP = 100,000 - 250,000 / 50 = 95,000. The
    # mark gaps to 90,000: the 20 % partial (10 BTC) sold in the book would leave 10 * 5,000 =
    # 50,000 past bankruptcy, and the fund holds 0, so the 10 BTC close at 95,000 against bob:
    # he realises 10 * 5,000 = 50,000, the trader 10 * -5,000, M = 200,000. Equity
    # 200,000 + 40 * -10,000 = -200,000 is below 2/3 of MM: the vault takes the 40 BTC and 200,000.
    res = simulate(HYPER, Account(profile_id="hyperliquid", positions=(HL_BIG,)),
                   PricePath.from_mark([0, 1], [100_000, 90_000]), counterparties=[HL_BOB])
    (adl,) = res.events_of("adl")
    assert (adl.qty, adl.price, adl.amount) == (pytest.approx(10.0), pytest.approx(95_000.0), pytest.approx(50_000.0))
    assert "partial_liquidation" not in kinds(res)  # nothing was sold in the book
    assert res.liquidations[0].kind == "partial" and res.liquidations[0].qty == pytest.approx(10.0)
    assert res.party("insurance_fund").end == 0.0
    assert res.events_of("backstop")[0].qty == pytest.approx(40.0)
    assert res.party("liquidator_vault").end == pytest.approx(200_000.0)
    assert_conserved(res)


def test_fraction_partial_past_bankruptcy_fills_in_the_book_when_the_fund_covers_the_gap():
    # As above with a fund of 50,000 = the 10 * 5,000 gap: the book takes the 10 BTC at 90,000
    # (-100,000); the remaining margin 150,000 absorbs the loss, so the fund pays nothing after all.
    res = simulate(HYPER, Account(profile_id="hyperliquid", positions=(HL_BIG,)),
                   PricePath.from_mark([0, 1], [100_000, 90_000]), insurance_fund=50_000.0, counterparties=[HL_BOB])
    assert "adl" not in kinds(res)
    part = res.events_of("partial_liquidation")[0]
    assert (part.qty, part.amount) == (pytest.approx(10.0), pytest.approx(-100_000.0))
    assert res.party("insurance_fund").end == 50_000.0
    assert res.party("liquidator_vault").end == pytest.approx(150_000.0)
    assert_conserved(res)


def test_adl_never_picks_a_counterparty_the_bankruptcy_price_would_bankrupt():
    # The FAQ long gaps to 60,000 (BP 61,200, fund 0). dave is short 5 @ 61,000 with 500 margin:
    # in profit at the mark 60,000, but closing at 61,200 costs him 200 per BTC, 1,000 on 5 BTC,
    # more than his 500: his own bankruptcy price 61,100 lies below 61,200, so he is skipped. erin
    # (short 5 @ 64,000, margin 5,000) takes the 5 BTC: 5 * 2,800 = 14,000.
    dave = Counterparty("dave", Side.SHORT, 5, 61_000, 500)
    erin = Counterparty("erin", Side.SHORT, 5, 64_000, 5_000)
    res = simulate(CLASSIC, FAQ_ACCT, PricePath.from_mark([0, 1], [68_000, 60_000]), counterparties=[dave, erin])
    assert [(e.position, e.qty) for e in res.events_of("adl")] == [("erin", pytest.approx(5.0))]
    assert res.party("adl.dave").end == 500.0
    assert res.party("adl.erin").end == pytest.approx(19_000.0)
    assert res.party("insurance_fund").end == pytest.approx(0.0, abs=1e-9)


def test_adl_ranking_excludes_counterparties_insolvent_at_the_close_price():
    # dave and erin as above, against a long closed at 61,200: dave's equity there is
    # 500 + 5 * (61,000 - 61,200) = -500 < 0 -> not eligible; at the mark 60,000 alone he would be.
    kw = dict(sides=[-1, -1], qtys=[5, 5], entries=[61_000, 64_000], margins=[500, 5_000], mark=60_000, against=1)
    assert adl_ranking(**kw)[2].tolist() == [True, True]
    assert adl_ranking(**kw, close_price=61_200)[2].tolist() == [False, True]


# --------------------------------------------------------------- scripted actions: applied or said


def faq_lesson(**sim_changes):
    from core.paths import scenarios_dir
    from core.scenario import load_scenario

    sc = load_scenario(scenarios_dir() / "lesson-faq-crash.json")
    return dataclasses.replace(sc, simulation=dataclasses.replace(sc.simulation, **sim_changes))


def test_an_action_between_two_ticks_applies_before_the_next_tick():
    # The FAQ lesson: marks 62,000 at t=60 and 61,500 at t=61 (dt 1 s), LP 61,880. Adding 10,000 at
    # t = 60.876 happens while the position is alive (before the tick at 61), at the prices of
    # t = 60: M = 44,000, LP = 68,000 - (44,000 - 3,400) / 5 = 59,880 < 61,500, so no liquidation.
    # (It used to be moved to the tick at 61, after the liquidation, and dropped without a word.)
    from core.simulate import run_scenario

    add = Action(t=60.876, kind=ActionKind.ADD_MARGIN, position=0, value=10_000.0)
    res = run_scenario(faq_lesson(actions=(add,)), PROFILES)
    assert kinds(res) == ["margin_added"]
    (ev,) = res.events
    assert (ev.t, ev.mark, ev.amount) == (60.876, 62_000.0, 10_000.0)
    assert res.party(ISO).end == 44_000.0
    assert res.transfers[0].t == 60.876
    assert_conserved(res)


def test_an_action_on_a_tick_comes_after_the_liquidation_engine_and_says_it_was_skipped():
    # The same top-up at exactly t = 61: the engine acts first at a tick, liquidates the position,
    # and the top-up finds nothing to act on: an action_skipped event says so, the money stays in
    # the trader's spot account.
    from core.simulate import run_scenario

    add = Action(t=61.0, kind=ActionKind.ADD_MARGIN, position=0, value=10_000.0)
    res = run_scenario(faq_lesson(actions=(add,)), PROFILES)
    assert kinds(res) == ["liquidation_triggered", "orders_cancelled", "liquidation_fill",
                          "insurance_fund_inflow", "action_skipped"]
    skipped = res.events[-1]
    assert skipped.t == 61.0 and skipped.detail["action"] == 0.0
    assert "already closed" in skipped.note and "t = 61" in skipped.note
    assert res.party("trader.spot").end == 10_000.0


def test_actions_after_every_position_is_gone_are_each_reported():
    # After the liquidation at t=61 nothing is open: the two later actions are not silently lost.
    from core.simulate import run_scenario

    acts = (Action(t=90.0, kind=ActionKind.REDUCE, position=0, value=1.0),
            Action(t=100.0, kind=ActionKind.STOP_LOSS, position=0, value=50_000.0))
    res = run_scenario(faq_lesson(actions=acts), PROFILES)
    skipped = res.events_of("action_skipped")
    assert [(e.t, e.detail["action"]) for e in skipped] == [(90.0, 0.0), (100.0, 1.0)]
    assert res.as_dict()["events"][-1]["note"] == skipped[-1].note


def test_an_action_outside_the_path_is_refused_naming_it():
    path = path_from_points([10, 20], [68_000, 68_000])
    for t, word in ((5.0, "before the start"), (25.0, "after the end")):
        with pytest.raises(InvalidInputError, match=word) as err:
            simulate(CLASSIC, FAQ_ACCT, path, actions=[Action(t=t, kind=ActionKind.ADD_MARGIN, position=0, value=1.0)])
        assert err.value.field == "simulation.actions[0].t"


def test_a_stop_on_a_position_the_path_does_not_move_is_refused():
    # The path moves BTCUSDT; an ETHUSDT position stays at its account mark, so its stop could never fire.
    eth = Position(symbol="ETHUSDT", side=Side.LONG, qty_base=10, entry_price=3_500, leverage=10)
    acct = Account(profile_id="binance", positions=(dataclasses.replace(FAQ_POS, leverage=10), eth))
    with pytest.raises(InvalidInputError, match="could never fire") as err:
        simulate(BINANCE, acct, path_from_points([0, 10], [68_000, 68_000]),
                 actions=[Action(t=1.0, kind=ActionKind.STOP_LOSS, position=1, value=3_000.0)])
    assert err.value.field == "simulation.actions[0].position"


def test_placing_an_order_is_an_event_and_a_close_cancels_the_orders_left():
    # A stop-loss and a take-profit are placed at t=0 (order_placed, each); reducing the whole
    # position at t=2 leaves them nothing to close: orders_cancelled (2) says they went.
    path = path_from_points([0, 1, 2, 3], [68_000, 68_000, 68_000, 68_000])
    res = simulate(CLASSIC, FAQ_ACCT, path, actions=[
        Action(t=0.0, kind=ActionKind.STOP_LOSS, position=0, value=62_000.0),
        Action(t=0.0, kind=ActionKind.TAKE_PROFIT, position=0, value=75_000.0, qty=1.0),
        Action(t=2.0, kind=ActionKind.REDUCE, position=0, value=5.0)])
    assert kinds(res) == ["order_placed", "order_placed", "position_reduced", "orders_cancelled"]
    sl, tp = res.events[:2]
    assert (sl.price, sl.qty, sl.note) == (62_000.0, 5.0, "stop_loss")
    assert (tp.price, tp.qty, tp.note) == (75_000.0, 1.0, "take_profit")
    assert res.events[-1].qty == 2.0

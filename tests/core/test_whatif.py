"""What-if actions: each checked against a hand derivation written out beside it."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import whatif as w
from core.errors import InvalidInputError
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import load_profiles
from core.quote import position_margin
from core.tiers import TierTable
from tests.core.strategies import finite, isolated_cases


@pytest.fixture(scope="module")
def profiles():
    return load_profiles([exchanges_dir()])


@pytest.fixture(scope="module")
def classic(profiles):
    return profiles.get("classic")


@pytest.fixture(scope="module")
def binance(profiles):
    return profiles.get("binance")


def faq_account(wallet: float = 50_000.0, **kw) -> Account:
    # The source FAQ position (docs/domain.md §5): 5 BTC long at 68,000, 10x, isolated.
    pos = Position("BTCUSDT", Side.LONG, 5, 68_000, 10, **kw)
    return Account("classic", wallet_usd=wallet, positions=(pos,))


# ---------------------------------------------------------------------------------------------
# add / remove margin


def test_add_margin_moves_lp_by_amount_over_qty(classic):
    r = w.add_margin(classic, faq_account(), 0, 6_000)
    # Entry basis: LP = EP - (margin - MM)/q. Before 68,000 - (34,000 - 3,400)/5 = 61,880 (docs/domain.md §5);
    # after 68,000 - (40,000 - 3,400)/5 = 60,680: 6,000 / 5 BTC = 1,200 lower.
    assert r.before.liquidation_price == pytest.approx(61_880.0, rel=1e-12)
    assert r.after is not None
    assert r.after.liquidation_price == pytest.approx(60_680.0, rel=1e-12)
    assert r.deltas["liquidation_price"] == pytest.approx(-1_200.0, rel=1e-9)
    # BP = EP - margin/q: 61,200 -> 68,000 - 40,000/5 = 60,000.
    assert r.deltas["bankruptcy_price"] == pytest.approx(-1_200.0, rel=1e-9)
    assert r.deltas["margin"] == pytest.approx(6_000.0)
    assert r.balance_change == -6_000.0
    assert r.account.wallet_usd == 44_000.0
    assert r.account_before.wallet_usd == 50_000.0  # the input is untouched (frozen)


def test_add_margin_refuses_more_than_free_balance(classic):
    with pytest.raises(InvalidInputError) as ei:
        w.add_margin(classic, faq_account(wallet=1_000), 0, 1_000.01)
    assert ei.value.field == "amount" and "1,000.00" in str(ei.value)


def test_add_margin_with_external_balance_leaves_wallet(classic):
    r = w.add_margin(classic, faq_account(wallet=0), 0, 500, free_balance=600)
    assert r.account.wallet_usd == 0.0 and r.balance_change == -500.0
    assert r.position is not None and r.position.margin_usd == 34_500.0


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "10", True])
def test_add_margin_bad_amount(classic, bad):
    with pytest.raises(InvalidInputError) as ei:
        w.add_margin(classic, faq_account(), 0, bad)
    assert ei.value.field == "amount"


def test_margin_actions_refuse_cross(classic):
    acc = faq_account(mode=MarginMode.CROSS)
    with pytest.raises(InvalidInputError) as ei:
        w.add_margin(classic, acc, 0, 10)
    assert ei.value.field == "mode"


def test_bad_index(classic):
    with pytest.raises(InvalidInputError) as ei:
        w.add_margin(classic, faq_account(), 1, 10)
    assert ei.value.field == "index" and "0-0" in str(ei.value)


def test_max_removable_margin_rule(classic):
    acc = faq_account(margin_usd=40_000)
    # margin + min(uPnL, 0) - q*mark/L = 40,000 + 0 - 34,000 = 6,000 at mark = entry.
    assert w.max_removable_margin(classic, acc, 0) == pytest.approx(6_000.0)
    # mark 67,000: uPnL = 5 x (-1,000) = -5,000; IM at mark = 5 x 67,000/10 = 33,500;
    # 40,000 - 5,000 - 33,500 = 1,500.
    assert w.max_removable_margin(classic, acc.with_mark("BTCUSDT", 67_000), 0) == pytest.approx(1_500.0)
    # mark 70,000: profit not counted, IM at mark 35,000: 40,000 - 35,000 = 5,000.
    assert w.max_removable_margin(classic, acc.with_mark("BTCUSDT", 70_000), 0) == pytest.approx(5_000.0)
    # a position at its opening margin in a loss can give back nothing
    assert w.max_removable_margin(classic, faq_account().with_mark("BTCUSDT", 67_000), 0) == 0.0


def test_remove_margin_limits(classic):
    acc = faq_account(margin_usd=40_000)
    r = w.remove_margin(classic, acc, 0, 6_000)
    assert r.after is not None and r.after.liquidation_price == pytest.approx(61_880.0)
    assert r.account.wallet_usd == 56_000.0 and r.balance_change == 6_000.0
    with pytest.raises(InvalidInputError) as ei:
        w.remove_margin(classic, acc, 0, 6_000.5)
    assert ei.value.field == "amount" and "6,000.00" in str(ei.value)


# ---------------------------------------------------------------------------------------------
# change leverage


def test_change_leverage_isolated_margin_and_lp(classic):
    r = w.change_leverage(classic, faq_account(), 0, 5)
    # margin = 5 x 68,000 / 5 = 68,000 (+34,000 from the wallet);
    # LP = 68,000 - (68,000 - 3,400)/5 = 55,080.
    assert r.after is not None and r.after.margin == pytest.approx(68_000.0)
    assert r.balance_change == pytest.approx(-34_000.0)
    assert r.account.wallet_usd == pytest.approx(16_000.0)
    assert r.after.liquidation_price == pytest.approx(55_080.0)


def test_change_leverage_up_releases_margin(classic):
    r = w.change_leverage(classic, faq_account(), 0, 20)
    # margin 340,000/20 = 17,000; released 17,000; LP = 68,000 - (17,000 - 3,400)/5 = 65,280.
    assert r.balance_change == pytest.approx(17_000.0)
    assert r.after is not None and r.after.liquidation_price == pytest.approx(65_280.0)


def test_change_leverage_refusals(classic):
    acc = faq_account()
    with pytest.raises(InvalidInputError, match="50x") as ei:  # tier 3 (250k-1M) allows 50x
        w.change_leverage(classic, acc, 0, 51)
    assert ei.value.field == "leverage"
    with pytest.raises(InvalidInputError) as ei:
        w.change_leverage(classic, faq_account(wallet=10_000), 0, 5)  # needs 34,000 more
    assert ei.value.field == "leverage" and "10,000.00" in str(ei.value)
    with pytest.raises(InvalidInputError):
        w.change_leverage(classic, acc, 0, 0.5)


def test_change_leverage_refuses_at_or_above_one_over_mmr():
    # A one-tier table allowing 200x with MMR 1 %: 100x leaves IM = MM -> refused.
    from core.profiles import Contract, Profile, Rules
    prof = Profile(id="t", name="t", as_of="2025-01-01", source="test", rules=Rules(),
                   contracts={"X": Contract("X", TierTable.single(mmr=0.01, max_leverage=200))})
    acc = Account("t", wallet_usd=1e6, positions=(Position("X", Side.LONG, 1, 100, 10),))
    with pytest.raises(InvalidInputError, match="below 100x") as ei:
        w.change_leverage(prof, acc, 0, 100)
    assert ei.value.field == "leverage"
    assert w.change_leverage(prof, acc, 0, 99).after is not None


def test_change_leverage_refuses_when_liquidatable_after(classic):
    # mark 64,000: uPnL -20,000. At 20x the margin would be 17,000 -> equity -3,000 < MM.
    acc = faq_account().with_mark("BTCUSDT", 64_000)
    with pytest.raises(InvalidInputError, match="liquidated") as ei:
        w.change_leverage(classic, acc, 0, 20)
    assert ei.value.field == "leverage"


# ---------------------------------------------------------------------------------------------
# partial close / add to position


def test_partial_close_isolated(classic):
    r = w.partial_close(classic, faq_account(), 0, 2, 70_000)
    # PnL = 2 x (70,000 - 68,000) = 4,000; released = 34,000 x 2/5 = 13,600; balance +17,600.
    assert r.realized_pnl == pytest.approx(4_000.0)
    assert r.balance_change == pytest.approx(17_600.0)
    assert r.account.wallet_usd == pytest.approx(67_600.0)
    assert r.position is not None and r.position.qty_base == 3.0
    # 3 BTC, margin 20,400, notional 204,000 -> tier 2 (50k-250k) MMR 0.5 %: MM 1,020;
    # LP = 68,000 - (20,400 - 1,020)/3 = 61,540.
    assert r.after is not None and r.after.liquidation_price == pytest.approx(61_540.0)


def test_partial_close_whole_position_removes_it(classic):
    r = w.partial_close(classic, faq_account(), 0, 5, 66_000)
    # PnL = 5 x (-2,000) = -10,000; released 34,000: +24,000.
    assert r.after is None and r.position is None and r.account.positions == ()
    assert r.balance_change == pytest.approx(24_000.0)
    assert r.deltas["margin"] == pytest.approx(-34_000.0)
    assert math.isnan(r.deltas["liquidation_price"])


def test_partial_close_refuses_exit_beyond_bankruptcy(classic):
    # BP = 68,000 - 34,000/5 = 61,200 (docs/domain.md §5): a close at 61,000 loses more than the margin.
    with pytest.raises(InvalidInputError, match="61,200") as ei:
        w.partial_close(classic, faq_account(), 0, 2, 61_000)
    assert ei.value.field == "exit_price"
    # at 61,500 it is allowed: PnL 2 x (-6,500) = -13,000, released 13,600 -> +600
    assert w.partial_close(classic, faq_account(), 0, 2, 61_500).balance_change == pytest.approx(600.0)


def test_partial_close_refuses_more_than_held(classic):
    with pytest.raises(InvalidInputError, match="up to 5") as ei:
        w.partial_close(classic, faq_account(), 0, 5.5, 70_000)
    assert ei.value.field == "qty"


def test_partial_close_cross_pnl_to_wallet(binance):
    acc = Account("binance", wallet_usd=10_000, positions=(
        Position("BTCUSDT", Side.SHORT, 0.5, 60_000, 20, mode=MarginMode.CROSS),))
    r = w.partial_close(binance, acc, 0, 0.2, 59_000)
    # short: PnL = -1 x 0.2 x (59,000 - 60,000) = +200 into the wallet.
    assert r.realized_pnl == pytest.approx(200.0)
    assert r.account.wallet_usd == pytest.approx(10_200.0)


def test_add_to_position_average_entry(classic):
    r = w.add_to_position(classic, faq_account(wallet=40_000), 0, 5, 70_000)
    # entry = (5 x 68,000 + 5 x 70,000)/10 = 69,000; margin 34,000 + 5 x 70,000/10 = 69,000.
    assert r.position is not None and r.position.entry_price == pytest.approx(69_000.0)
    assert r.after is not None and r.after.margin == pytest.approx(69_000.0)
    assert r.balance_change == pytest.approx(-35_000.0)
    # notional 690,000 stays in tier 3 (250k-1M, MMR 1 %): MM 6,900; LP = 69,000 - 62,100/10 = 62,790.
    assert r.after.liquidation_price == pytest.approx(62_790.0)
    assert r.after.tier.index == 2


def test_add_to_position_refuses_tier_leverage(classic):
    acc = Account("classic", wallet_usd=1e6, positions=(Position("BTCUSDT", Side.LONG, 3, 68_000, 60 / 1.2),))
    # 3 x 68,000 = 204,000 (tier 2, 100x) at 50x; adding 10 BTC -> 884,000 in tier 3, still 50x: fine.
    assert w.add_to_position(classic, acc, 0, 10, 68_000).after is not None
    acc2 = Account("classic", wallet_usd=1e6, positions=(Position("BTCUSDT", Side.LONG, 3, 68_000, 80),))
    with pytest.raises(InvalidInputError, match="50x") as ei:  # 80x allowed in tier 2, not in tier 3
        w.add_to_position(classic, acc2, 0, 2, 68_000)
    assert ei.value.field == "leverage"


# ---------------------------------------------------------------------------------------------
# quick calculators


def test_max_open_size_respects_tier_caps(binance):
    tiers = binance.contract("BTCUSDT").tiers
    # 1,000 USDT at 20x: 20,000 notional at 100,000 -> 0.2 BTC (tier 1, 125x allows 20x).
    assert w.max_open_size(balance=1_000, leverage=20, price=100_000, tiers=tiers) == pytest.approx(0.2)
    # 10,000 USDT at 125x could pay 1,250,000 but 125x is allowed only below 50,000 notional.
    q = w.max_open_size(balance=10_000, leverage=125, price=100_000, tiers=tiers)
    assert q * 100_000 < 50_000 and q * 100_000 == pytest.approx(50_000, rel=1e-12)
    # 100,000 USDT at 80x: tiers up to 600k allow 100x -> capped below 600,000 notional.
    q = w.max_open_size(balance=100_000, leverage=80, price=100_000, tiers=tiers)
    assert q * 100_000 < 600_000 and q * 100_000 == pytest.approx(600_000, rel=1e-12)
    # no tier allows 200x
    assert w.max_open_size(balance=1_000, leverage=200, price=100_000, tiers=tiers) == 0.0


def test_max_open_size_broadcasts_and_matches_scalar(binance):
    tiers = binance.contract("BTCUSDT").tiers
    bal = np.array([100.0, 10_000.0, 1e6, 5e7])
    lev = np.array([[5.0], [50.0], [125.0]])
    arr = w.max_open_size(balance=bal, leverage=lev, price=64_321.5, tiers=tiers, lot_size=0.001)
    assert arr.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            one = w.max_open_size(balance=bal[j], leverage=lev[i, 0], price=64_321.5, tiers=tiers, lot_size=0.001)
            assert arr[i, j] == one
            n = one * 64_321.5
            k = int(tiers.index(n))
            assert tiers.max_leverage[k] >= lev[i, 0] and n / lev[i, 0] <= bal[j] * (1 + 1e-12)
            # one more lot would break a rule
            n2 = (one + 0.001) * 64_321.5
            k2 = int(tiers.index(n2))
            assert tiers.max_leverage[k2] < lev[i, 0] or n2 / lev[i, 0] > bal[j]


def test_target_price_and_pnl_roe_round_trip():
    side = np.array([1, -1, 1, -1])
    roe = np.array([0.5, 0.5, -0.8, 2.0])
    p = w.target_price_for_roe(side=side, entry=68_000, leverage=10, roe=roe)
    pnl, r = w.pnl_and_roe_at_exit(side=side, qty=5, entry=68_000, exit_price=p, leverage=10)
    np.testing.assert_allclose(r, roe, rtol=1e-12)
    # +50 % at 10x is a 5 % move: 68,000 x 1.05 = 71,400; PnL = 5 x 3,400 = 17,000.
    assert p[0] == pytest.approx(71_400.0) and pnl[0] == pytest.approx(17_000.0)
    # a short cannot make 200 % at 1x: the price would have to be negative
    assert math.isnan(w.target_price_for_roe(side=-1, entry=100, leverage=1, roe=2.0))


def test_size_from_risk():
    # 1 % of 10,000 = 100 USDT over a 2,000 stop distance: 0.05 BTC.
    assert w.size_from_risk(balance=10_000, risk=0.01, entry=68_000, stop=66_000) == pytest.approx(0.05)
    q = w.size_from_risk(balance=10_000, risk=0.02, entry=np.array([100.0, 100.0]), stop=np.array([90.0, 100.0]))
    assert q[0] == pytest.approx(20.0) and math.isnan(q[1])


def test_free_balance_counts_cross_loss_not_profit(binance):
    acc = Account("binance", wallet_usd=10_000, positions=(
        Position("BTCUSDT", Side.LONG, 0.1, 60_000, 10, mode=MarginMode.CROSS),
        Position("ETHUSDT", Side.SHORT, 1, 3_000, 10, mode=MarginMode.CROSS),
    ), marks={"BTCUSDT": 59_000.0, "ETHUSDT": 2_900.0})
    # 10,000 + min(-100, 0) + min(+100, 0) - 600 - 300 = 9,000
    assert w.free_balance(binance, acc) == pytest.approx(9_000.0)


def test_whatif_as_dict_is_json_ready(classic):
    import json
    r = w.partial_close(classic, faq_account(), 0, 5, 66_000)
    json.dumps(r.as_dict(), allow_nan=False)


# ---------------------------------------------------------------------------------------------
# Money is conserved (docs/domain.md §4.7): wallet + isolated margins change only by realised PnL


def _money(profile, acc: Account) -> float:
    return acc.wallet_usd + sum(position_margin(profile, p) for p in acc.positions
                                if p.mode is MarginMode.ISOLATED)


@settings(max_examples=120, deadline=None)
@given(isolated_cases(), finite(0.0, 1.0), finite(0.01, 0.99), finite(0.9, 1.1),
       st.sampled_from(["add", "remove", "leverage", "close", "grow"]))
def test_actions_conserve_money(case, t, frac, px_factor, action):
    prof, p = case.profile, case.position
    acc = Account(prof.id, wallet_usd=p.entry_notional, positions=(p,))
    before = _money(prof, acc)
    with np.errstate(all="raise"):
        try:
            if action == "add":
                r = w.add_margin(prof, acc, 0, t * acc.wallet_usd + 1e-6)
            elif action == "remove":
                cap = w.max_removable_margin(prof, acc, 0)
                if cap <= 0:
                    return
                r = w.remove_margin(prof, acc, 0, max(t * cap, 1e-9))
            elif action == "leverage":
                r = w.change_leverage(prof, acc, 0, 1.0 + t * (p.leverage - 1.0))
            elif action == "close":
                r = w.partial_close(prof, acc, 0, frac * p.qty_base, p.entry_price * px_factor)
            else:
                r = w.add_to_position(prof, acc, 0, frac * p.qty_base, p.entry_price * px_factor)
        except InvalidInputError as exc:
            # a refusal is fine when it names a field; nothing else may escape
            assert exc.field in {"amount", "leverage", "qty", "exit_price"}
            return
    after = _money(prof, r.account)
    assert after == pytest.approx(before + r.realized_pnl, rel=1e-9, abs=1e-9 * before)
    assert r.account_before is acc


def test_cross_actions_on_an_account_index(binance):
    btc = Position("BTCUSDT", Side.LONG, 1, 60_000, 20, mode=MarginMode.CROSS)
    eth = Position("ETHUSDT", Side.SHORT, 10, 3_000, 20, mode=MarginMode.CROSS)
    acc = Account("binance", wallet_usd=8_000, positions=(btc, eth), marks={"BTCUSDT": 60_000.0, "ETHUSDT": 2_900.0})
    # closing the profitable ETH short realises -1 x 10 x (2,900 - 3,000) = +1,000 into the wallet
    r = w.partial_close(binance, acc, 1, 10, 2_900)
    assert r.after is None and r.account.wallet_usd == pytest.approx(9_000.0)
    # the BTC long now has only the wallet behind it (the ETH uPnL moved into the wallet, and the
    # ETH maintenance margin no longer counts), so its liquidation price falls
    from core.quote import quote_account
    lp_before = quote_account(binance, acc).positions[0].liquidation_price
    lp_after = quote_account(binance, r.account).positions[0].liquidation_price
    # before: WB' = 8,000 + 1,000 - ETH MM (0.4 % x 29,000 = 116) = 8,884; after: WB' = 9,000.
    # 1 BTC near 51,000 is in bracket 2 (50k-600k: MMR 0.5 %, cum 50), so
    # LP = (60,000 - WB' - 50) / (1 x 0.995): 51,066/0.995 = 51,322.61 -> 50,950/0.995 = 51,206.03
    assert lp_before == pytest.approx((60_000 - 8_884 - 50) / 0.995, rel=1e-12)
    assert lp_after == pytest.approx((60_000 - 9_000 - 50) / 0.995, rel=1e-12)
    # cross leverage change: the wallet does not move, only the IM the free balance must cover
    r2 = w.change_leverage(binance, acc, 0, 10)
    assert r2.account.wallet_usd == acc.wallet_usd and r2.balance_change == 0.0
    assert r2.deltas["initial_margin"] == pytest.approx(6_000.0 - 3_000.0)

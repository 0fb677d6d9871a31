"""Published worked examples, reproduced by the engine. Every expected number names its source.

Where a source only gives a formula (no number), the test checks the engine against that formula
written out independently here.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from core.liquidation import bankruptcy_price, liquidation_price
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import Contract, FeeModel, MMBasis, Profile, Rules, load_profiles
from core.quote import quote_account, quote_position
from core.tiers import TierTable, maintenance_amounts


@pytest.fixture(scope="module")
def shipped():
    ps = load_profiles([exchanges_dir()])
    assert not ps.errors, ps.errors
    return ps


def one_tier_profile(*, mmr: float, max_leverage: float = 125, mm_basis: str = "entry",
                     fee_model: str = "none", taker_fee: float = 0.0) -> Profile:
    rules = Rules(mm_basis=MMBasis(mm_basis), fee_model=FeeModel(fee_model), taker_fee=taker_fee,
                  tier_at_liquidation=False)
    tiers = TierTable.single(mmr=mmr, max_leverage=max_leverage)
    return Profile(id="t", name="t", as_of="2025-01-01", source="test", rules=rules,
                   contracts={"BTCUSDT": Contract("BTCUSDT", tiers)})


# ---------------------------------------------------------------------------------------------
# The mission's source FAQ (docs/domain.md §5)


def test_source_faq_example_corrected(shipped):
    # Source FAQ: buy 5 BTCUSDT at 68,000, 10x, tier MMR 1 % (250k-1M tier of its table).
    # IM = 5 x 68,000 / 10 = 34,000; MM = 1 % x 340,000 = 3,400;
    # LP = 68,000 - (34,000 - 3,400)/5 = 61,880 (the FAQ's 64,940 divides by 10, the leverage);
    # BP = 68,000 - 34,000/5 = 61,200.  (docs/domain.md §5)
    q = quote_position(shipped.get("classic"), Position("BTCUSDT", Side.LONG, 5, 68_000, 10))
    assert q.initial_margin == pytest.approx(34_000.0, rel=1e-12)
    assert q.maintenance_margin == pytest.approx(3_400.0, rel=1e-12)
    assert q.liquidation_price == pytest.approx(61_880.0, rel=1e-12)
    assert q.bankruptcy_price == pytest.approx(61_200.0, rel=1e-12)
    assert q.tier.mmr == 0.01
    # The explanation says why the FAQ's printed figure differs.
    assert "64,940" in q.explain["liquidation_price"]


def test_source_faq_example_on_mark_basis():
    # Same position with MM on the mark notional (docs/domain.md §5): (340,000 - 34,000)/(5 x 0.99)
    # = 306,000 / 4.95 = 61,818.1818...
    lp = liquidation_price(side=1, qty=5, entry=68_000, wallet=34_000,
                           tiers=TierTable.single(mmr=0.01, max_leverage=50), mm_basis="mark")
    assert lp == pytest.approx(306_000 / 4.95, rel=1e-12)
    assert round(lp, 2) == 61_818.18


# ---------------------------------------------------------------------------------------------
# Bybit "Liquidation Price (USDT Contract)" (classic, entry basis, isolated)
# https://help.bybit.com/hc/en-us/articles/900000181046-Liquidation-Price-USDT-Contract-
# LP_long = EP x (1 - IMR + MMR) - extra/qty,  LP_short = EP x (1 + IMR - MMR) + extra/qty


@pytest.mark.parametrize(
    ("side", "qty", "entry", "lev", "extra", "expected"),
    [
        # current article: 1 BTC long at 20,000, 50x, MMR 0.5 % -> 20,000 x (1 - 2 % + 0.5 %) = 19,700
        (Side.LONG, 1, 20_000, 50, 0.0, 19_700.0),
        # current article: 1 BTC short at 20,000, 40x -> 20,000 x (1 + 2.5 % - 0.5 %) = 20,400
        (Side.SHORT, 1, 20_000, 40, 0.0, 20_400.0),
        # earlier edition (help.bybit.com 900000181046): 1 BTC long at 10,000, 50x -> 9,850
        (Side.LONG, 1, 10_000, 50, 0.0, 9_850.0),
        # earlier edition: 1 BTC short at 8,000, 40x -> 8,160
        (Side.SHORT, 1, 8_000, 40, 0.0, 8_160.0),
        # current article, example 2 (transcribed at https://wuyelx.com/4039.html): short 1 BTC
        # at 20,000, 50x, 3,000 extra margin -> 20,000 + (400 - 100) + 3,000 = 23,300
        (Side.SHORT, 1, 20_000, 50, 3_000.0, 23_300.0),
    ],
)
def test_bybit_usdt_contract_examples(side, qty, entry, lev, extra, expected):
    prof = one_tier_profile(mmr=0.005)
    margin = qty * entry / lev + extra
    q = quote_position(prof, Position("BTCUSDT", side, qty, entry, lev, margin_usd=margin))
    assert q.liquidation_price == pytest.approx(expected, rel=1e-12)


def test_bybit_usdt_contract_funding_example():
    # Same article, example 3 (transcribed at https://wuyelx.com/4039.html): the 19,700 long pays
    # 200 USDT funding out of its 400 margin -> 20,000 - (200 - 100)/1 = 19,900.
    q = quote_position(one_tier_profile(mmr=0.005),
                       Position("BTCUSDT", Side.LONG, 1, 20_000, 50, margin_usd=200.0))
    assert q.liquidation_price == pytest.approx(19_900.0, rel=1e-12)


def test_bybit_usdt_cross_example():
    # Bybit's cross example as republished at https://support.moonxbt.com/hc/ja/articles/5532119155343
    # (same text as the Bybit article): 1 BTC long at 20,000 (IM 1 % = 200, MM 0.5 % = 100) with
    # 2,000 available -> sustainable loss 2,000 + 200 - 100 = 2,100 -> LP 20,000 - 2,100 = 17,900.
    # Available balance excludes the IM, so the wallet is 2,200.
    prof = one_tier_profile(mmr=0.005)
    acc = Account("t", wallet_usd=2_200, positions=(
        Position("BTCUSDT", Side.LONG, 1, 20_000, 100, mode=MarginMode.CROSS),), marks={"BTCUSDT": 21_000.0})
    q = quote_account(prof, acc).positions[0]
    assert q.liquidation_price == pytest.approx(17_900.0, rel=1e-12)


def test_kucoin_entry_basis_short_example():
    # KuCoin "How to Calculate Futures Liquidation Price"
    # (https://kucoin.zendesk.com/hc/en-us/articles/26694703491737): short at 28,000, 100x, MMR 0.4 %
    # -> 28,000 x (1 + 1 % - 0.4 %) = 28,168.
    q = quote_position(one_tier_profile(mmr=0.004), Position("BTCUSDT", Side.SHORT, 1, 28_000, 100))
    assert q.liquidation_price == pytest.approx(28_168.0, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Bybit UTA, isolated, USDT perpetual (close_fee model, the shipped `bybit` profile)
# "Trading Rules: Liquidation Process (Unified Trading Account)",
# https://www.bybit.com/en/help-center/article/UTA-Trading-Rules, and
# https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account
# Formula: LP_long = [EP*q - EP*q/L - extra/(1 - f) - deduction] / [q - q*MMR]
#          LP_short = [EP*q + EP*q/L + extra/(1 + f) + deduction] / [q + q*MMR]


def test_bybit_uta_isolated_long_example(shipped):
    bybit = shipped.get("bybit")
    assert bybit.rules.fee_model is FeeModel.CLOSE_FEE and bybit.rules.taker_fee == 0.00055
    # Published: 1 BTC long at 40,000, 50x, MMR 0.5 %, taker 0.055 %, deduction 0.
    # Fee to close at EP x (1 - 1/50) = 39,200: 0.00055 x 39,200 = 21.56.
    # IM = 800 + 21.56 = 821.56; MM at opening = 40,000 x 0.5 % - 0 + 21.56 = 221.56 (published).
    pos = Position("BTCUSDT", Side.LONG, 1, 40_000, 50)
    q0 = quote_position(bybit, pos)
    assert q0.initial_margin == pytest.approx(821.56, rel=1e-12)
    assert q0.margin == pytest.approx(821.56, rel=1e-12)
    assert q0.maintenance_margin == pytest.approx(221.56, rel=1e-12)
    # With 3,000 USDT extra margin: LP = (40,000 - 800 - 3,000/0.99945)/0.995 = 36,380.25 (published,
    # rounded to the cent).
    q = quote_position(bybit, pos.with_(margin_usd=821.56 + 3_000))
    assert round(q.liquidation_price, 2) == 36_380.25
    assert q.liquidation_price == pytest.approx((40_000 - 800 - 3_000 / (1 - 0.00055)) / 0.995, rel=1e-12)


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
@pytest.mark.parametrize(("qty", "entry", "lev", "extra"),
                         [(1, 40_000, 50, 3_000.0), (0.37, 61_234.5, 10, 0.0), (3, 95_000, 100, 125.5)])
def test_bybit_uta_formula_both_sides(shipped, side, qty, entry, lev, extra):
    bybit = shipped.get("bybit")
    f, mmr = 0.00055, 0.005
    s = side.sign
    margin = qty * entry / lev + f * qty * entry * (1 - s / lev) + extra
    q = quote_position(bybit, Position("BTCUSDT", side, qty, entry, lev, margin_usd=margin))
    # Bybit's published formula, written out independently:
    v = entry * qty
    if s > 0:
        want = (v - v / lev - extra / (1 - f) - 0.0) / (qty - qty * mmr)
    else:
        want = (v + v / lev + extra / (1 + f) + 0.0) / (qty + qty * mmr)
    assert q.liquidation_price == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize(("side", "expected"), [(Side.LONG, 58_800.0), (Side.SHORT, 61_200.0)])
def test_bybit_bankruptcy_price_example(shipped, side, expected):
    # "Bankruptcy Price (Perpetual and Expiry Contracts)",
    # https://www.bybit.com/en/help-center/article/Bankruptcy-Price-Perpetual-and-Expiry-Contracts:
    # long at 60,000, 50x -> 60,000 x (1 - 1/50) = 58,800 (published); short mirrors to 61,200.
    q = quote_position(shipped.get("bybit"), Position("BTCUSDT", side, 1, 60_000, 50))
    assert q.bankruptcy_price == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Phemex USDⓈ-M isolated (taker fee folded into the MMR: fee_model taker_in_mmr)
# https://phemex.com/help-center/liq-price-for-USDTM:
# long LP = (OpenValue - assignedPosBalance - mmAmount) / (1 - 0.0006 - MMR) / size, with
# assignedPosBalance = OpenValue/L + (OpenValue - OpenValue/L) x 0.06 %.


def test_phemex_taker_in_mmr_example():
    # Published: OpenValue = 500 x 0.4 = 200, 5x, MMR 1 %: assignedPosBalance = 40 + 160 x 0.06 % = 40.096;
    # (200 - 40.096 - 0)/(0.9994 - 0.01)/500 = 0.3232...
    prof = one_tier_profile(mmr=0.01, max_leverage=20, mm_basis="mark", fee_model="taker_in_mmr",
                            taker_fee=0.0006)
    q = quote_position(prof, Position("BTCUSDT", Side.LONG, 500, 0.4, 5, margin_usd=40.096))
    assert q.liquidation_price == pytest.approx((200 - 40.096) / (0.9994 - 0.01) / 500, rel=1e-12)
    assert str(q.liquidation_price).startswith("0.3232")


# ---------------------------------------------------------------------------------------------
# Binance: the maintenance amount ("cum") and the bracket of a notional
# https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93


def test_binance_faq_maintenance_amount_example():
    # Binance FAQ (table of its time: 0-50k 0.4 %, 50k-250k 0.5 %, 250k-1M 1 %): "the maintenance
    # amount on Level 3 = 250,000 x (1 % - 0.5 %) + 50 USDT = 1,300 USDT", and a 264,000 USDT
    # position has MMR 1 %.
    cum = maintenance_amounts([0, 50_000, 250_000], [0.004, 0.005, 0.01])
    assert cum.tolist() == pytest.approx([0.0, 50.0, 1_300.0], abs=1e-9)
    t = TierTable.from_rows(floor=[0, 50_000, 250_000], cap=[50_000, 250_000, 1_000_000],
                            max_leverage=[125, 100, 50], mmr=[0.004, 0.005, 0.01])
    assert t.mmr[t.index(264_000)] == 0.01
    assert t.cum[t.index(500_000)] == pytest.approx(1_300.0)


def test_binance_published_cum_equals_recursion(shipped):
    # docs/domain.md §2: Binance BTCUSDT 2024-10-24 publishes cum 0, 50, 950, 11,450, ... 421,481,450;
    # each must equal cum(n-1) + floor(n) x (MMR(n) - MMR(n-1)).
    t = shipped.get("binance").contract("BTCUSDT").tiers
    np.testing.assert_allclose(t.cum, maintenance_amounts(t.floor, t.mmr), rtol=0, atol=1e-6)
    assert t.cum[-1] == 421_481_450


def test_binance_formula_isolated(shipped):
    # Binance FAQ formula, isolated (TMM = UPNL = 0):
    # LP = (WB + cum - side x qty x EP) / (qty x MMR - side x qty), MMR and cum of the bracket at LP.
    # 0.5 BTC long at 60,000, 20x, WB = 1,500: notional 30,000 -> bracket 1 (0.4 %, cum 0);
    # LP = (1,500 + 0 - 30,000)/(0.002 - 0.5) = 57,228.9157; 0.5 x LP = 28,614 is still bracket 1.
    q = quote_position(shipped.get("binance"), Position("BTCUSDT", Side.LONG, 0.5, 60_000, 20))
    assert q.liquidation_price == pytest.approx((1_500 + 0 - 30_000) / (0.5 * 0.004 - 0.5), rel=1e-12)
    assert q.bankruptcy_price == pytest.approx(60_000 - 1_500 / 0.5, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Hyperliquid: https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations
# liq_price = price - side x margin_available / position_size / (1 - l x side),
# l = 1 / maintenance leverage = MMR, margin_available = margin + uPnL(price) - MM(price).


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
@pytest.mark.parametrize("mark", [91_000.0, 100_000.0, 104_500.0])
def test_hyperliquid_docs_formula_matches_solver(shipped, side, mark):
    hl = shipped.get("hyperliquid")
    # BTC tier 1: 40x max, maintenance leverage 80 -> MMR = l = 1/80.
    pos = Position("BTC", side, 2, 100_000, 20)  # margin 10,000 USDC, notional 200,000
    acc = Account("hyperliquid", positions=(pos,), marks={"BTC": mark})
    q = quote_account(hl, acc).positions[0]
    s, qty, ep, margin, mmr = side.sign, 2.0, 100_000.0, 10_000.0, 1 / 80
    margin_available = margin + s * qty * (mark - ep) - mmr * qty * mark
    want = mark - s * margin_available / qty / (1 - mmr * s)
    # The docs' price does not depend on the mark it is evaluated at; neither does the solver's.
    assert q.liquidation_price == pytest.approx(want, rel=1e-12)
    # long: 190,000 / (2 x 0.9875) = 96,202.53...; short: 210,000 / (2 x 1.0125) = 103,703.70...
    assert q.liquidation_price == pytest.approx(190_000 / 1.975 if s > 0 else 210_000 / 2.025, rel=1e-12)


def test_hyperliquid_cross_docs_formula(shipped):
    # Cross: margin_available = account value - maintenance margin required (all cross positions).
    hl = shipped.get("hyperliquid")
    btc = Position("BTC", Side.LONG, 1, 100_000, 10, mode=MarginMode.CROSS)
    eth = Position("ETH", Side.SHORT, 10, 4_000, 10, mode=MarginMode.CROSS)
    marks = {"BTC": 98_000.0, "ETH": 3_900.0}
    acc = Account("hyperliquid", wallet_usd=20_000, positions=(btc, eth), marks=marks)
    q = quote_account(hl, acc).positions[0]
    upnl = 1 * (98_000 - 100_000) + (-10) * (3_900 - 4_000)
    mm = 98_000 / 80 + 10 * 3_900 / 50  # BTC MMR 1/80, ETH MMR 1/(2 x 25)
    margin_available = 20_000 + upnl - mm
    want = 98_000 - margin_available / 1 / (1 - 1 / 80)
    assert q.liquidation_price == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# No liquidation price


def test_fully_collateralised_long_has_none():
    # A long whose margin covers the notional: (q x EP - WB)/(q x (1 - MMR)) <= 0 -> NaN, shown "--".
    lp = liquidation_price(side=1, qty=1, entry=100, wallet=100, tiers=TierTable.single(mmr=0.01, max_leverage=10))
    assert math.isnan(lp)
    assert math.isnan(bankruptcy_price(side=1, qty=1, entry=100, wallet=100))

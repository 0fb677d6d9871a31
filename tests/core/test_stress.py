"""core.stress: the leverage x added-margin grid equals scalar quotes cell by cell."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import load_profiles
from core.quote import leverage_limit, position_margin, quote_account, quote_position
from core.stress import default_axes, liquidation_distance_grid, scalar_cell, touch_probability_grid

PS = load_profiles([exchanges_dir()])


def alone(pid: str, pos: Position, mark: float | None = None, wallet: float | None = None) -> Account:
    """The position alone in an account, as quote_position builds it (cross: wallet = its margin)."""
    w = 0.0
    if pos.mode is MarginMode.CROSS:
        w = position_margin(PS.get(pid), pos) if wallet is None else wallet
    return Account(pid, w, (pos,), {pos.symbol: pos.entry_price if mark is None else mark})


# Hyperliquid, cross, wallet 20,650: BTC 0.5 long at 95,000 and ETH 10 short at 3,300 with ETH's
# mark at 3,600 (issue 9's account): the BTC position's LP counts the ETH short's loss and its MM.
HEDGED = Account("hyperliquid", 20_650, (Position("BTC", Side.LONG, 0.5, 95_000, 20, MarginMode.CROSS),
                                         Position("ETH", Side.SHORT, 10, 3_300, 20, MarginMode.CROSS)),
                 {"BTC": 95_000, "ETH": 3_600})


CASES = [
    ("classic", Position("BTCUSDT", Side.LONG, 5, 68_000, 10), None, None),
    ("binance", Position("BTCUSDT", Side.SHORT, 5, 68_000, 10), 66_000.0, None),
    ("bybit", Position("BTCUSDT", Side.LONG, 2, 60_000, 20, margin_usd=7_000.0), 61_000.0, None),
    ("hyperliquid", Position("ETH", Side.SHORT, 30, 3_000, 10), 3_100.0, None),
    ("binance", Position("BTCUSDT", Side.LONG, 1, 60_000, 10, mode=MarginMode.CROSS), 59_000.0, 9_000.0),
    ("bybit", Position("BTCUSDT", Side.SHORT, 1, 60_000, 10, mode=MarginMode.CROSS), None, 4_000.0),
]


@pytest.mark.parametrize(("pid", "pos", "mark", "wallet"), CASES)
def test_grid_equals_scalar_quotes_cell_by_cell(pid, pos, mark, wallet):
    profile = PS.get(pid)
    g = liquidation_distance_grid(profile, alone(pid, pos, mark, wallet))
    assert g.liquidation_price.shape == (g.leverage.size, g.added_margin.size)
    rng = np.random.default_rng(3)
    cells = [(0, 0), (g.leverage.size - 1, g.added_margin.size - 1)]
    cells += [(int(i), int(j)) for i, j in zip(rng.integers(0, g.leverage.size, 8),
                                                rng.integers(0, g.added_margin.size, 8), strict=True)]
    m = pos.entry_price if mark is None else mark
    for i, j in cells:
        assert g.allowed[i, j]
        lp = scalar_cell(profile, alone(pid, pos, mark, wallet), 0, g, i, j)
        np.testing.assert_allclose(g.liquidation_price[i, j], lp, rtol=1e-12, equal_nan=True)
        # and straight from quote_position, with the margin written out as the module defines it
        lev = float(g.leverage[i])
        if pos.mode is MarginMode.ISOLATED:
            need = pos.qty_base * pos.entry_price / lev
            if profile.rules.fee_model.value == "close_fee":
                need += profile.rules.taker_fee * pos.qty_base * pos.entry_price * (1 - pos.sign / lev)
            q = quote_position(profile, pos.with_(leverage=lev, margin_usd=need + float(g.added_margin[j])), mark=m)
        else:
            w = position_margin(profile, pos) if wallet is None else wallet
            q = quote_position(profile, pos.with_(leverage=lev), mark=m, wallet=w + float(g.added_margin[j]))
        np.testing.assert_allclose(g.liquidation_price[i, j], q.liquidation_price, rtol=1e-12, equal_nan=True)
        if np.isfinite(q.liquidation_price):
            np.testing.assert_allclose(g.distance[i, j], q.distance_to_liquidation, rtol=1e-9, atol=1e-12)
        else:
            assert g.distance[i, j] == np.inf  # no LP: the price may fall to zero


def test_refused_leverage_is_nan_and_quote_refuses_it_too():
    classic = PS.get("classic")
    pos = Position("BTCUSDT", Side.LONG, 5, 68_000, 10)  # 340,000: tier 3 allows 50x (docs/domain.md §2)
    g = liquidation_distance_grid(classic, alone("classic", pos), leverage=[49, 50, 51, 120],
                                  added_margin=[0, 1_000])
    assert g.allowed[:, 0].tolist() == [True, True, False, False]
    assert np.isnan(g.liquidation_price[2:]).all() and np.isnan(g.distance[2:]).all()
    with pytest.raises(InvalidInputError) as ei:
        scalar_cell(classic, alone("classic", pos), 0, g, 2, 0)
    assert ei.value.field == "leverage"
    assert leverage_limit(classic, "BTCUSDT", pos.entry_notional) == (50.0, 2)
    # Hyperliquid: MMR 1.25 % would refuse 80x, but the 40x tier maximum binds first
    assert leverage_limit(PS.get("hyperliquid"), "BTC", pos.entry_notional)[0] == 40.0


def test_distance_grows_with_margin_and_shrinks_with_leverage():
    for pid in ("classic", "binance", "bybit"):
        profile = PS.get(pid)
        g = liquidation_distance_grid(profile, alone(pid, Position("BTCUSDT", Side.LONG, 5, 68_000, 10)))
        d = np.where(np.isinf(g.distance), 10.0, g.distance)  # no LP: further than any LP
        ok = g.allowed.all(axis=1)
        finite = np.isfinite(g.distance[ok])
        d_margin, d_lev = np.diff(d[ok], axis=1), np.diff(d[ok], axis=0)
        assert np.all(d_margin[finite[:, 1:]] > 0)  # more margin, further away
        assert np.all(d_margin >= 0)
        assert np.all(d_lev[finite[:-1, :]] < 0)  # more leverage, closer
        assert np.all(d_lev <= 0)


def test_large_grid_takes_the_fast_path_and_agrees_with_a_small_one():
    # 300 x 300 = 90,000 cells: above core.liquidation's fast-path size (32,768)
    binance = PS.get("binance")
    pos = Position("BTCUSDT", Side.SHORT, 20, 68_000, 10)
    lev, add = np.linspace(1, 50, 300), np.linspace(0, 200_000, 300)
    big = liquidation_distance_grid(binance, alone("binance", pos), leverage=lev, added_margin=add)
    small = liquidation_distance_grid(binance, alone("binance", pos), leverage=lev[::37], added_margin=add[::41])
    np.testing.assert_array_equal(big.liquidation_price[::37, ::41], small.liquidation_price)


def test_current_point_and_default_axes():
    bybit = PS.get("bybit")
    pos = Position("BTCUSDT", Side.LONG, 2, 60_000, 20, margin_usd=7_000.0)
    g = liquidation_distance_grid(bybit, alone("bybit", pos))
    # opening requirement 6,000 + 0.055 % x 120,000 x (1 - 1/20) = 6,062.70; 7,000 - 6,062.70 added
    assert g.current == pytest.approx((20.0, 7_000 - 6_062.70))
    lev, add = default_axes(bybit, pos)
    assert lev[0] == 1.0 and lev[-1] == 100.0  # Bybit BTCUSDT risk limit 1: 100x (docs/domain.md §2)
    assert add[0] == 0.0 and add[-1] == pytest.approx(12_125.40)  # twice the 6,062.70 opening requirement


@pytest.mark.parametrize(("kw", "field"), [
    ({"leverage": [0.5, 2]}, "leverage"),
    ({"leverage": []}, "leverage"),
    ({"added_margin": [0, np.nan]}, "added_margin"),
    ({"index": 3}, "index"),
    ({"leverage": np.linspace(1, 2, 2_000), "added_margin": np.linspace(0, 1, 1_000)}, "grid"),
])
def test_bad_axes_are_refused_with_the_field(kw, field):
    with pytest.raises(InvalidInputError) as ei:
        liquidation_distance_grid(PS.get("binance"), alone("binance", Position("BTCUSDT", Side.LONG, 1, 60_000, 10)),
                                  **kw)
    assert ei.value.field == field


def test_a_cross_position_is_stressed_inside_its_account():
    # issue 9: the star (current leverage, nothing added) read LP 53,969 and the odds used 54,380,
    # the position alone, while the results said 61,914 for it inside its account.
    hl = PS.get("hyperliquid")
    results = quote_account(hl, HEDGED).positions[0]
    assert round(results.liquidation_price) == 61_914
    g = liquidation_distance_grid(hl, HEDGED, 0, leverage=[20, 40], added_margin=[0, 1_000])
    assert g.liquidation_price[0, 0] == results.liquidation_price
    assert g.distance[0, 0] == results.distance_to_liquidation
    for i, j in [(0, 1), (1, 0), (1, 1)]:
        assert g.liquidation_price[i, j] == pytest.approx(scalar_cell(hl, HEDGED, 0, g, i, j), rel=1e-12)
    assert touch_probability_grid(hl, HEDGED, 0).liquidation_price == results.liquidation_price


# ---------------------------------------------------------------------------------------------
# Price move x volatility: the chance of touching the liquidation price


@pytest.mark.parametrize(("pid", "pos", "mark", "wallet"), CASES)
def test_touch_grid_equals_scalar_probabilities(pid, pos, mark, wallet):
    from core.risk import liquidation_probability

    profile = PS.get(pid)
    g = touch_probability_grid(profile, alone(pid, pos, mark, wallet), horizon_years=3 / 365)
    q = quote_position(profile, pos, mark=mark, wallet=wallet)
    np.testing.assert_equal(g.liquidation_price, q.liquidation_price)
    assert g.probability.shape == (g.move.size, g.sigma.size)
    for i, j in [(0, 0), (30, 20), (g.move.size - 1, g.sigma.size - 1), (45, 3), (10, 39)]:
        m = q.mark * (1 + g.move[i])
        # the LP does not depend on the mark: quoting at the moved mark gives the same one
        q_moved = quote_position(profile, pos, mark=float(m), wallet=wallet)
        np.testing.assert_allclose(q_moved.liquidation_price, q.liquidation_price, rtol=1e-12, equal_nan=True)
        p = liquidation_probability(side=pos.sign, mark=float(m), liquidation_price=q.liquidation_price,
                                    sigma=float(g.sigma[j]), horizon=3 / 365)
        np.testing.assert_allclose(g.probability[i, j], p, rtol=1e-12, atol=1e-300)
    assert ((g.probability >= 0) & (g.probability <= 1)).all()


def test_touch_grid_golden_and_monotone():
    classic = PS.get("classic")
    g = touch_probability_grid(classic, alone("classic", Position("BTCUSDT", Side.LONG, 5, 68_000, 10)),
                               move=np.linspace(-0.2, 0.2, 41), sigma=np.linspace(0.1, 1.5, 15))
    # FAQ position, 80 % vol, one week, no move: 0.41338 (hand derivation in core.risk's docstring)
    j = int(np.argmin(np.abs(g.sigma - 0.8)))
    assert g.probability[20, j] == pytest.approx(0.41338, abs=5e-5)
    # a move of -9 % or worse puts the mark at or below 61,880 (68,000 x 0.91): certain
    assert (g.probability[g.move <= -0.09 - 1e-12] == 1.0).all()
    inside = g.move > -0.09
    assert np.all(np.diff(g.probability[inside], axis=1) > 0)  # more volatility, more likely
    assert np.all(np.diff(g.probability[inside], axis=0) < 0)  # further up, less likely


@pytest.mark.parametrize(("kw", "field"), [
    ({"move": [-1.0, 0.0]}, "move"),
    ({"sigma": [-0.1]}, "sigma"),
    ({"horizon_years": 0.0}, "horizon"),
    ({"mu": float("nan")}, "mu"),
])
def test_touch_grid_refuses_bad_input(kw, field):
    with pytest.raises(InvalidInputError) as ei:
        touch_probability_grid(PS.get("binance"), alone("binance", Position("BTCUSDT", Side.LONG, 1, 60_000, 10)),
                               **kw)
    assert ei.value.field == field

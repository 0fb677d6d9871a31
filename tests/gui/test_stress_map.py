"""The stress map: its image is core.stress's grid, the read-out names the cell, it follows the session."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from core import fmt
from core.stress import liquidation_distance_grid
from gui.widgets.stress_map import QtStressMap, cell_index, display_image


@pytest.fixture
def stress_map(shown, session) -> QtStressMap:
    return shown(QtStressMap(session), 800, 500)


def test_image_is_the_core_grid(stress_map, qtbot, session):
    w = stress_map
    core_grid = liquidation_distance_grid(session.profile, session.account_for_quote(), session.selected)
    g = w.grid
    assert g is not None
    np.testing.assert_array_equal(g.leverage, core_grid.leverage)
    np.testing.assert_array_equal(g.added_margin, core_grid.added_margin)
    np.testing.assert_array_equal(g.liquidation_price, core_grid.liquidation_price)
    np.testing.assert_array_equal(g.distance, core_grid.distance)
    # drawn: the distance in percent, refused cells NaN (transparent), "no LP" at the top
    img, levels = display_image(core_grid)
    np.testing.assert_array_equal(w.image.image, img)
    finite = np.isfinite(core_grid.distance)
    np.testing.assert_allclose(w.image.image[finite], core_grid.distance[finite] * 100)
    assert np.isnan(w.image.image[~core_grid.allowed]).all()
    assert tuple(w.colorbar.levels()) == levels
    # the star sits on the position: 10x, nothing added
    x, y = w.marker.getData()
    assert (x[0], y[0]) == (10.0, 0.0)


def test_hover_reads_out_the_cell(stress_map, qtbot, session):
    w = stress_map
    g = w.grid
    # the example: classic, 5 BTC long at 68,000. At 10x with nothing added, LP 61,880 (docs/domain.md §5)
    lev10 = int(np.argmin(np.abs(g.leverage - 10.0)))
    text = w.show_readout(float(g.leverage[lev10]), 0.0)
    assert text.startswith(f"{g.leverage[lev10]:.4g}x, +0.00 USDT added")
    assert f"LP {fmt.price(float(g.liquidation_price[lev10, 0]), session.tick)}" in text
    assert f"distance {fmt.pct(float(g.distance[lev10, 0]))}" in text
    # through the scene, as a mouse move would: the crosshair follows and the label reads the cell
    i, j = 5, 7
    scene = w.plot.getPlotItem().vb.mapViewToScene(QPointF(float(g.leverage[i]), float(g.added_margin[j])))
    w.plot.scene().sigMouseMoved.emit(scene)
    assert cell_index(g.leverage, g.added_margin, float(g.leverage[i]), float(g.added_margin[j])) == (i, j)
    assert f"LP {fmt.price(float(g.liquidation_price[i, j]), session.tick)}" in w.readout.text()
    assert abs(w.vline.value() - g.leverage[i]) < 1e-6 * g.leverage[-1]
    # leverage 1x backed by its whole notional: no liquidation price
    assert "no liquidation price" in w.show_readout(1.0, float(g.added_margin[-1]))
    assert w.show_readout(-100.0, 0.0) == " "  # outside the map


def test_follows_the_session_and_shows_refusals(stress_map, qtbot, session):
    w = stress_map
    session.edit_position(0, leverage=20.0)
    w.throttle.flush()
    assert w.grid is not None and w.grid.current[0] == 20.0
    session.set_profile("hyperliquid")  # BTCUSDT -> BTC, 40x at most
    w.throttle.flush()
    assert w.grid is not None and w.grid.profile_id == "hyperliquid"
    assert w.grid.leverage[-1] == 40.0


def test_a_refusal_from_core_becomes_a_message(stress_map, qtbot, session, monkeypatch):
    import gui.widgets.stress_map as sm
    from core.errors import InvalidInputError

    w = stress_map

    def refuse(*_a, **_k):
        raise InvalidInputError("qty", "notional 680,000,000 USDT is above the largest tier")

    monkeypatch.setattr(sm, "liquidation_distance_grid", refuse)
    session.edit_position(0, qty=4.0)
    w.throttle.flush()
    assert w.grid is None
    assert w.title.text() == "No stress map: qty: notional 680,000,000 USDT is above the largest tier"
    assert w.image.image is None and w.show_readout(10.0, 0.0) == " "


def test_volatility_mode_is_the_core_touch_grid(stress_map, qtbot, session):
    from core.stress import touch_probability_grid

    w = stress_map
    w.mode_box.setCurrentIndex(w.mode_box.findData("volatility"))
    assert w.mode == "volatility" and w.grid is None and w.touch is not None
    core_grid = touch_probability_grid(session.profile, session.account_for_quote(), session.selected,
                                       horizon_years=7 / 365)
    np.testing.assert_array_equal(w.touch.probability, core_grid.probability)
    np.testing.assert_array_equal(w.image.image, core_grid.probability * 100)
    assert tuple(w.colorbar.levels()) == (0.0, 100.0)
    # the star: no move, the feed's volatility (the session fixture streams at 80 %)
    x, y = w.marker.getData()
    assert (x[0], y[0]) == (0.0, 80.0)
    # FAQ position, LP 61,880, 80 %/year, one week: 41.34 % (hand derivation in core.risk)
    text = w.show_readout(0.0, 80.0)
    j = int(np.argmin(np.abs(core_grid.sigma * 100 - 80.0)))
    assert text.endswith(f"within 7 days {fmt.pct(float(core_grid.probability[30, j]))}")
    if abs(core_grid.sigma[j] - 0.8) < 1e-12:
        assert text.endswith("41.34 %")
    # a refused horizon is marked in place; the map keeps the old one
    w.horizon.setText("-3")
    w.horizon.editingFinished.emit()
    assert w.horizon_error.text().startswith("horizon: must be in (0, 3650]")
    assert w.horizon_days == 7.0 and w.touch is not None
    w.horizon.setText("30")
    w.horizon.editingFinished.emit()
    assert w.horizon_error.text() == "" and w.touch.horizon_years == 30 / 365
    assert np.all(w.touch.probability >= core_grid.probability)  # a longer horizon, more likely
    w.set_mode("leverage")
    assert w.grid is not None and w.touch is None


def test_a_cross_position_is_mapped_inside_its_account(shown, qtbot, profiles):
    # issue 9: Hyperliquid, cross, wallet 20,650, BTC 0.5 long at 95,000 and ETH 10 short at 3,300
    # with ETH's mark at 3,600. Results say BTC's LP is 61,914; the map's star read 53,969 and its
    # chance-of-liquidation mode used 54,380 (the position alone, as if the ETH loss did not exist).
    from core.model import Account, MarginMode, Position, Side
    from core.scenario import Scenario
    from gui.session import Session

    acct = Account("hyperliquid", 20_650, (Position("BTC", Side.LONG, 0.5, 95_000, 20, MarginMode.CROSS),
                                           Position("ETH", Side.SHORT, 10, 3_300, 20, MarginMode.CROSS)),
                   {"BTC": 95_000, "ETH": 3_600})
    session = Session(profiles, Scenario("hyperliquid", acct), seed=7, volatility=0.8)
    w = shown(QtStressMap(session), 800, 500)
    results_lp = session.position_quote.liquidation_price
    assert round(results_lp) == 61_914
    assert f"LP {fmt.price(results_lp, session.tick)}" in w.title.text()  # what the star says
    # every cell is the position inside the account: the (20x, +0) cell is the results' LP
    core_grid = liquidation_distance_grid(session.profile, session.account_for_quote(), 0,
                                          leverage=[20.0, *w.grid.leverage[:3]], added_margin=[0.0])
    assert core_grid.liquidation_price[0, 0] == results_lp
    np.testing.assert_array_equal(core_grid.liquidation_price[1:, 0],
                                  w.grid.liquidation_price[:3, int(np.argmin(np.abs(w.grid.added_margin)))])
    w.mode_box.setCurrentIndex(w.mode_box.findData("volatility"))
    assert w.touch.liquidation_price == results_lp

"""Dropping the liquidation line at a price: the change that puts it there, exactly (core.lp_target)."""
from __future__ import annotations

import pytest

from core import fmt
from core.errors import InvalidInputError
from core.lp_target import closed_form_margin, target_liquidation_price
from core.margin import qty_from_quote_value
from core.model import Account, MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import load_profiles
from core.quote import quote_account
from core.symbols import resolve_symbol

PROFILES = load_profiles([exchanges_dir()])
IDS = sorted(PROFILES.ids)


def _account(pid: str, side: Side, mode: MarginMode, *, wallet: float = 200_000.0,
             margin: float | None = None) -> Account:
    """30,000 USD of BTC at 60,000 (0.5 BTC, or 300 / 30,000 contracts of an inverse contract), 10x;
    amounts given in USD and, for a coin-settled contract, held in the coin at 60,000."""
    profile = PROFILES.get(pid)
    sym = resolve_symbol(profile, "BTC")
    c = profile.contract(sym)
    coin = 60_000.0 if c.is_inverse else 1.0
    qty = float(qty_from_quote_value(c, 30_000.0, 60_000.0))
    p = Position(sym, side, qty, 60_000.0, 10.0, mode=mode, margin_usd=None if margin is None else margin / coin)
    return Account(pid, wallet_usd=wallet / coin, positions=(p,), marks=((sym, 60_000.0),))


def _same_to_the_tick(pid: str, sym: str, a: float, b: float) -> bool:
    tick = PROFILES.get(pid).contract(sym).tick_size
    return fmt.price(a, tick) == fmt.price(b, tick)


@pytest.mark.parametrize("pid", IDS)
@pytest.mark.parametrize("mode", [MarginMode.ISOLATED, MarginMode.CROSS])
@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
@pytest.mark.parametrize("move", [-0.02, 0.03])  # the line dragged 2 % towards the mark, or 3 % away
def test_applying_a_dragged_liquidation_price_gives_exactly_that_price(pid, mode, side, move):
    profile = PROFILES.get(pid)
    # isolated with twice the opening margin (3,000), so that some may be taken out again
    acct = (_account(pid, side, mode, margin=6_000.0) if mode is MarginMode.ISOLATED else
            _account(pid, side, mode, wallet=4_000.0))
    before = quote_account(profile, acct).positions[0].liquidation_price
    target = before * (1 - side.sign * move)  # away from the mark: down for a long
    res = target_liquidation_price(profile, acct, 0, target)
    # Apply: the new account, quoted afresh, has the liquidation price at the target, to the tick.
    after = quote_account(profile, res.account).positions[0].liquidation_price
    assert _same_to_the_tick(pid, acct.positions[0].symbol, after, target), (pid, target, after)
    assert after == pytest.approx(target, rel=1e-9)
    assert res.action == ("change_wallet" if mode is MarginMode.CROSS else
                          ("add_margin" if move > 0 else "remove_margin"))


@pytest.mark.parametrize("pid", IDS)
def test_the_leverage_lever_on_an_isolated_position(pid):
    profile = PROFILES.get(pid)
    acct = _account(pid, Side.LONG, MarginMode.ISOLATED)
    before = quote_account(profile, acct).positions[0].liquidation_price
    res = target_liquidation_price(profile, acct, 0, before * 0.99, lever="leverage")
    assert res.action == "change_leverage" and res.position.leverage < 10
    assert res.after.liquidation_price == pytest.approx(before * 0.99, rel=1e-9)


def test_the_size_lever_on_a_cross_position():
    # Cutting a cross long at the mark leaves the wallet to back less: the price moves away.
    profile = PROFILES.get("binance")
    acct = _account("binance", Side.LONG, MarginMode.CROSS, wallet=4_000.0)
    before = quote_account(profile, acct).positions[0].liquidation_price
    res = target_liquidation_price(profile, acct, 0, before * 0.97, lever="size")
    assert res.action == "partial_close" and 0 < res.position.qty_base < 0.5
    assert res.after.liquidation_price == pytest.approx(before * 0.97, rel=1e-9)


def test_closed_form_agrees_with_the_engine():
    # Binance BTCUSDT bracket 1, 0.5 BTC long at 60,000: the margin for 57,000 is
    # 30,000 - 57,000 x 0.5 x 0.996 = 1,614; the engine quotes exactly 57,000 with it.
    profile = PROFILES.get("binance")
    p = Position("BTCUSDT", Side.LONG, 0.5, 60_000, 20)
    m = closed_form_margin(profile, p, 57_000)
    assert m == pytest.approx(1_614.0)
    acct = Account("binance", positions=(p.with_(margin_usd=m),), marks={"BTCUSDT": 60_000.0})
    assert quote_account(profile, acct).positions[0].liquidation_price == pytest.approx(57_000, rel=1e-12)
    assert closed_form_margin(PROFILES.get("bybit"), p.with_(symbol="BTCUSDT"), 57_000) is None  # fee to close


@pytest.mark.parametrize(("kw", "field", "words"), [
    ({"target": 61_000.0}, "liquidation_price", "must lie below the mark"),
    ({"target": 50_000.0, "lever": "size"}, "liquidation_price", "keeps its liquidation price"),
    ({"target": 57_000.0, "lever": "tilt"}, "lever", "expected one of margin, leverage, size"),
    ({"target": 59_990.0, "lever": "leverage"}, "liquidation_price", "maximum"),
])
def test_unreachable_places_are_refused_with_the_reason(kw, field, words):
    profile = PROFILES.get("binance")
    acct = _account("binance", Side.LONG, MarginMode.ISOLATED)
    with pytest.raises(InvalidInputError) as exc:
        target_liquidation_price(profile, acct, 0, **kw)
    assert exc.value.field == field and words in exc.value.reason


def test_an_opening_margin_cannot_be_taken_out():
    # Freshly opened at the opening requirement, nothing may be removed (docs/domain.md §11,
    # decision 12): dragging the line towards the mark is refused, with how far it can go.
    profile = PROFILES.get("binance")
    acct = _account("binance", Side.LONG, MarginMode.ISOLATED)
    lp = quote_account(profile, acct).positions[0].liquidation_price
    with pytest.raises(InvalidInputError, match="initial margin at the mark"):
        target_liquidation_price(profile, acct, 0, lp * 1.01)


def test_beyond_the_free_balance_names_how_far_it_goes():
    profile = PROFILES.get("binance")
    acct = _account("binance", Side.LONG, MarginMode.ISOLATED, wallet=1_000.0)
    with pytest.raises(InvalidInputError) as exc:
        target_liquidation_price(profile, acct, 0, 40_000.0)
    assert "free balance" in exc.value.reason and "brings it to" in exc.value.reason


def test_cross_leverage_is_refused():
    profile = PROFILES.get("binance")
    acct = _account("binance", Side.SHORT, MarginMode.CROSS, wallet=4_000.0)
    with pytest.raises(InvalidInputError, match="does not move the liquidation price"):
        target_liquidation_price(profile, acct, 0, 70_000.0, lever="leverage")

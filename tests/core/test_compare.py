"""core.compare: one position under every profile, equal to `marginlab-cli compare`, and explained."""
from __future__ import annotations

import json
import math

import pytest

from core import fmt
from core.cli import main
from core.compare import compare_position, explain_differences
from core.model import MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import load_profiles

PS = load_profiles([exchanges_dir()])
FAQ = Position("BTCUSDT", Side.LONG, 5, 68_000, 10)  # docs/domain.md §5


def _row(rows, pid):
    return next(r for r in rows if r.profile.id == pid)


def test_faq_position_golden_numbers():
    rows = compare_position(PS, FAQ)
    assert [r.profile.id for r in rows] == [p.id for p in PS]
    classic = _row(rows, "classic")
    # docs/domain.md §5: IM 34,000, MM 3,400 (1 % of 340,000 on entry), LP 61,880, BP 61,200
    assert classic.initial_margin == pytest.approx(34_000)
    assert classic.maintenance_margin == pytest.approx(3_400)
    assert classic.liquidation_price == pytest.approx(61_880)
    assert classic.bankruptcy_price == pytest.approx(61_200)
    hl = _row(rows, "hyperliquid")
    # Hyperliquid names it BTC; MMR 1/(2 x 40) = 1.25 % on the mark:
    # LP = (340,000 - 34,000) / (5 x (1 - 0.0125)) = 306,000 / 4.9375 = 61,974.68...
    assert hl.symbol == "BTC"
    assert hl.tier is not None and hl.tier.mmr == pytest.approx(0.0125)
    assert hl.liquidation_price == pytest.approx(306_000 / 4.9375)
    binance = _row(rows, "binance")
    # Binance tier 2 (50k-600k): MMR 0.5 %, amount 50: (340,000 - 34,000 - 50) / (5 x 0.995)
    assert binance.tier is not None and binance.tier.index == 1
    assert binance.liquidation_price == pytest.approx(305_950 / 4.975)


def test_refusals_become_rows_with_the_reason():
    # 2,000 BTC at 68,000 = 136M: Bybit's BTCUSDT ladder stops at 80,000,000 (its Margin Parameters
    # page); Binance's 100M-230M bracket allows 10x
    rows = compare_position(PS, Position("BTC", Side.SHORT, 2_000, 68_000, 5))
    bybit = _row(rows, "bybit")
    assert not bybit.ok and bybit.error_field == "qty" and "80,000,000" in bybit.error
    assert math.isnan(bybit.liquidation_price) and bybit.tier is None
    assert _row(rows, "binance").ok
    # HYPE: listed on Hyperliquid only (not in Binance's 2024-10-24 snapshot)
    sol = compare_position(PS, Position("HYPE", Side.LONG, 100, 30, 5))
    assert [r.ok for r in sol] == [r.profile.id == "hyperliquid" for r in sol]
    assert _row(sol, "binance").error_field == "symbol" and "no HYPE contract" in _row(sol, "binance").error
    lines = explain_differences(sol)
    assert any(line.startswith("binance: not available") for line in lines)
    # a leverage above a tier's maximum: Hyperliquid BTC allows 40x, Binance tier 1 125x
    rows = compare_position(PS, Position("BTCUSDT", Side.LONG, 0.1, 68_000, 50))
    assert not _row(rows, "hyperliquid").ok and _row(rows, "hyperliquid").error_field == "leverage"
    assert "40x" in _row(rows, "hyperliquid").error


def _cli_json(capsys, pos: Position, *, mark=None, wallet=None) -> dict:
    argv = ["compare", "--symbol", pos.symbol, "--side", pos.side.value, "--qty", repr(pos.qty_base),
            "--entry", repr(pos.entry_price), "--leverage", repr(pos.leverage), "--mode", pos.mode.value, "--json"]
    if pos.margin_usd is not None:
        argv += ["--margin", repr(pos.margin_usd)]
    if mark is not None:
        argv += ["--mark", repr(mark)]
    if wallet is not None:
        argv += ["--wallet", repr(wallet)]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _n(x: float) -> float | None:
    return x if math.isfinite(x) else None


@pytest.mark.parametrize(("pos", "mark", "wallet"), [
    (FAQ, None, None),
    (Position("BTC", Side.SHORT, 50, 68_000, 20), 66_000.0, None),
    (Position("BTCUSDT", Side.LONG, 2, 60_000, 20, margin_usd=9_000.0), 61_000.0, None),
    (Position("XBTUSD", Side.LONG, 1, 60_000, 10, mode=MarginMode.CROSS), None, 80_000.0),  # no LP
    (Position("ETH", Side.SHORT, 30, 3_000, 25, mode=MarginMode.CROSS), 3_050.0, 5_000.0),
])
def test_rows_equal_cli_compare_json(capsys, pos, mark, wallet):
    data = _cli_json(capsys, pos, mark=mark, wallet=wallet)
    rows = compare_position(PS, pos, mark=mark, wallet=wallet)
    assert [p["id"] for p in data["profiles"]] == [r.profile.id for r in rows]
    for cli, row in zip(data["profiles"], rows, strict=True):
        assert cli["ok"] == row.ok
        if not row.ok:
            assert cli["error"]["message"] == row.error
            continue
        q = cli["quote"]
        assert q["symbol"] == row.symbol
        assert q["initial_margin"] == row.initial_margin
        assert q["maintenance_margin"] == row.maintenance_margin
        assert q["liquidation_price"] == _n(row.liquidation_price)
        assert q["bankruptcy_price"] == _n(row.bankruptcy_price)
        assert row.tier is not None and q["tier"]["index"] == row.tier.index
        assert q["distance_to_liquidation"] == _n(row.distance_to_liquidation)


def test_explanations_name_the_rule_and_measure_it():
    rows = compare_position(PS, FAQ)
    lines = explain_differences(rows, reference="binance")
    hl = [line for line in lines if line.startswith("hyperliquid: mmr_from_max_leverage")]
    assert len(hl) == 1 and "1/(2 x 40x max leverage)" in hl[0] and "1.250 %" in hl[0]
    # Under Binance's tier table Hyperliquid's rules (mark basis, no fee, tier at LP) are Binance's,
    # so its LP becomes Binance's: 305,950 / 4.975 = 61,497.49, shown to Hyperliquid's tick of 1
    assert f"-> {fmt.price(305_950 / 4.975, 1.0)}" in hl[0]
    head = next(line for line in lines if line.startswith("hyperliquid: LP"))
    assert "higher by 477.20" in head and "closer to the mark" in head  # 61,974.68 - 61,497.49
    # classic measures MM on the entry notional; on the mark it would be 61,818.18 (docs/domain.md §5)
    classic_basis = next(line for line in lines if line.startswith("classic: mm_basis entry"))
    assert "61,818.2" in classic_basis
    # Binance's 50 maintenance amount against classic's none is named as a rule of its own
    amount = explain_differences(rows, reference="classic")
    assert any(line.startswith("binance: maintenance amount 50.00") for line in amount)
    # Bybit holds the fee to close at BP: 0.055 % x 5 x 61,200 = 168.30 in IM and MM
    fee = next(line for line in lines if line.startswith("bybit: fee_model close_fee"))
    assert "168.30" in fee and "34,168.30" in fee


def test_explanations_reference_defaults_to_first_and_skip_it():
    rows = compare_position(PS, FAQ)
    lines = explain_differences(rows)
    first = rows[0].profile.id
    assert not any(line.startswith(f"{first}:") for line in lines)
    assert all(any(line.startswith(f"{r.profile.id}: LP") for line in lines) for r in rows[1:])
    # identical profiles give a headline saying so and no rule lines
    same = compare_position([PS.get("binance"), PS.get("binance")], FAQ)
    assert explain_differences(same) == [f"binance: LP {fmt.price(same[0].liquidation_price, 0.1)}, the same as binance"]


def test_inverse_contracts_of_another_size_are_compared_at_the_same_usd_value():
    # The inverse lesson: 1,000 BTCUSD_PERP of 100 USD (100,000 USD) long at 60,000, 5x, isolated.
    # Hand: IM = 100,000 / 60,000 / 5 = 0.33333333 BTC on every inverse profile. XBTUSD and Bybit's
    # BTCUSD are 1 USD contracts, so the same position there is 100,000 contracts (it was once
    # moved as 1,000 contracts: 1,000 USD, IM 0.00333333 BTC).
    from core.compare import compare_in_account
    from core.model import Account, Position, Side
    from core.paths import exchanges_dir
    from core.profiles import load_profiles

    ps = load_profiles([exchanges_dir()])
    acct = Account("binance-coinm", 0.0, (Position("BTCUSD_PERP", Side.LONG, 1_000, 60_000, 5),))
    rows = {r.profile.id: r for r in compare_in_account([ps.get(i) for i in ("binance-coinm", "bitmex", "bybit-inverse")],
                                                        acct, 0)}
    for pid, contracts in (("binance-coinm", 1_000), ("bitmex", 100_000), ("bybit-inverse", 100_000)):
        q = rows[pid].quote
        assert q is not None, (pid, rows[pid])
        assert q.position.qty_base == contracts
        # Bybit adds the fee to close at the bankruptcy price (its close_fee model): an inverse long at
        # 5x goes bankrupt at 60,000 x 5 / 6 = 50,000, so 0.00055 x 100,000 / 50,000 = 0.0011 BTC more.
        fee = 0.00055 * 100_000 / 50_000 if pid == "bybit-inverse" else 0.0
        assert q.initial_margin == pytest.approx(100_000 / 60_000 / 5 + fee, rel=1e-12), pid
    assert "100,000 contracts of 1 USD" in rows["bitmex"].converted


def test_a_rule_is_measured_inside_the_account_the_row_was_quoted_in():
    # issue 9's account (Hyperliquid, cross, wallet 20,650: BTC 0.5 long at 95,000 beside ETH 10 short at
    # 3,300 marked 3,600). Binance's row is the BTC position inside that account; the line that measures
    # Hyperliquid's tier table on it re-quoted the position alone on the wallet, so "60,228.9 -> 54,379.7"
    # mixed the account's LP with a lone position's. Measured inside the account, as the row was quoted:
    import dataclasses

    from core.compare import compare_in_account
    from core.model import Account
    from core.quote import quote_account

    acct = Account("hyperliquid", 20_650, (Position("BTC", Side.LONG, 0.5, 95_000, 20, MarginMode.CROSS),
                                           Position("ETH", Side.SHORT, 10, 3_300, 20, MarginMode.CROSS)),
                   {"BTC": 95_000, "ETH": 3_600})
    hl, bn = compare_in_account([PS.get("hyperliquid"), PS.get("binance")], acct, 0)
    assert bn.account is not None and bn.account.positions[1].symbol == "ETHUSDT"
    # Binance with Hyperliquid's BTC tier table (MMR 1/(2 x 40x)), ETHUSDT on Binance's own
    binance = PS.get("binance")
    changed = dataclasses.replace(
        binance.with_contract(dataclasses.replace(binance.contract("BTCUSDT"), tiers=PS.get("hyperliquid").contract("BTC").tiers)),
        rules=dataclasses.replace(binance.rules, mmr_from_max_leverage=True))
    inside = quote_account(changed, bn.account).positions[0].liquidation_price
    alone = compare_position([changed], bn.quote.position, mark=95_000, wallet=bn.quote.margin)[0].liquidation_price
    line = next(line for line in explain_differences((hl, bn), reference="hyperliquid")
                if line.startswith("binance: mmr_from_max_leverage"))
    assert f"-> {fmt.price(inside, 0.1)}" in line and fmt.price(alone, 0.1) not in line
    # the ETH short, still on Binance's 0.4 % where Hyperliquid charges more, keeps it short of Hyperliquid's LP
    assert bn.liquidation_price < inside < hl.liquidation_price

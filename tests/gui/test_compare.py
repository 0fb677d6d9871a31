"""The Compare tab: its table equals `marginlab-cli compare --json` and follows the session."""
from __future__ import annotations

import json
import math

from core import fmt
from core.cli import main
from core.model import MarginMode
from gui.widgets.compare import METRICS, YOURS, QtCompareView


def _cli_compare(capsys, session) -> dict:
    p = session.position
    mark = session.account_for_quote().mark_of(p)
    argv = ["compare", "--symbol", p.symbol, "--side", p.side.value, "--qty", repr(p.qty_base),
            "--entry", repr(p.entry_price), "--leverage", repr(p.leverage), "--mode", p.mode.value,
            "--mark", repr(mark), "--json"]
    if p.mode is MarginMode.CROSS:
        argv += ["--wallet", repr(session.account.wallet_usd)]
    elif p.margin_usd is not None:
        argv += ["--margin", repr(p.margin_usd)]
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _price(x, tick):
    return fmt.price(math.nan if x is None else x, tick)


def _assert_table_matches_cli(view, data) -> None:
    ids = [p["id"] for p in data["profiles"]]
    assert [view.table.horizontalHeaderItem(i).text().split(" ")[0] for i in range(view.table.columnCount())] == ids
    for prof in data["profiles"]:
        pid = prof["id"]
        if prof.get("converted") and prof["ok"]:
            # the CLI converts the position to a contract of the other type (linear <-> inverse) by its
            # notional at entry, and so does the tab with its account (core.compare.convert_account:
            # the wallet at the entry price): the same numbers, amounts in the settle coin
            q = prof["quote"]
            assert view.cell("contract", pid) == f"{q['symbol']} ({q['quote_currency']}, margin in {q['settle_asset']})"
            assert view.cell("initial_margin", pid) == fmt.amount(q["initial_margin"], q["settle_asset"])
            assert view.cell("liquidation_price", pid) == _price(q["liquidation_price"], q["tick_size"])
            assert view.cell("bankruptcy_price", pid) == _price(q["bankruptcy_price"], q["tick_size"])
            continue
        if not prof["ok"]:
            assert view.cell("contract", pid) == "not available"
            assert prof["error"]["message"] in view.cell("initial_margin", pid)  # the spanning reason
            continue
        q = prof["quote"]
        tick = q["tick_size"]
        assert view.cell("contract", pid) == f"{q['symbol']} ({q['quote_currency']})"
        assert view.cell("initial_margin", pid) == fmt.money(q["initial_margin"])
        assert view.cell("maintenance_margin", pid) == fmt.money(q["maintenance_margin"])
        assert view.cell("tier", pid).startswith(f"{q['tier']['index'] + 1}: MMR {fmt.pct(q['tier']['mmr'], 3)}")
        assert view.cell("liquidation_price", pid) == _price(q["liquidation_price"], tick)
        assert view.cell("bankruptcy_price", pid) == _price(q["bankruptcy_price"], tick)
        d = q["distance_to_liquidation"]
        assert view.cell("distance", pid) == fmt.pct(math.nan if d is None else d)


def test_table_matches_cli_compare_json(qtbot, session, capsys):
    view = QtCompareView(session)
    qtbot.addWidget(view)
    assert view.table.rowCount() == len(METRICS)
    _assert_table_matches_cli(view, _cli_compare(capsys, session))
    # the source FAQ's numbers on the workspace's own (classic) profile, docs/domain.md §5
    assert view.cell("liquidation_price", "classic") == "61,880.0"
    assert view.cell("bankruptcy_price", "classic") == "61,200.0"
    assert view.table.horizontalHeaderItem(
        [r.profile.id for r in view.comparison.rows].index("classic")).text() == "classic" + YOURS
    lines = view.explanation_lines()
    assert any(line.startswith("hyperliquid: mmr_from_max_leverage") and "1/(2 x 40x" in line for line in lines)
    assert not any(line.startswith("classic:") for line in lines)  # the reference itself


def test_editing_the_position_updates_the_table(qtbot, session, capsys):
    view = QtCompareView(session)
    qtbot.addWidget(view)
    before = view.cell("liquidation_price", "binance")
    # 50 BTC = 3.4M notional: Bybit's BTCUSDT tier 4 (3.2M-3.8M, MMR 0.67 %, its Margin Parameters page)
    session.edit_position(0, qty=50.0)
    view.throttle.flush()
    assert view.cell("tier", "bybit").startswith("4: MMR 0.670 %")
    assert view.cell("liquidation_price", "binance") != before
    _assert_table_matches_cli(view, _cli_compare(capsys, session))
    # undo brings the first table back; a short in cross mode is compared on the wallet
    session.undo_stack.undo()
    view.throttle.flush()
    assert view.cell("liquidation_price", "binance") == before
    session.edit_position(0, side="short", mode="cross")
    view.throttle.flush()
    assert view.comparison.position.mode is MarginMode.CROSS
    assert view.comparison.wallet == session.account.wallet_usd
    _assert_table_matches_cli(view, _cli_compare(capsys, session))


def test_streamed_mark_is_used_and_bursts_collapse(qtbot, session, capsys):
    view = QtCompareView(session)
    qtbot.addWidget(view)
    calls = []
    orig = view.refresh
    view.refresh = lambda: (calls.append(1), orig())  # type: ignore[method-assign]
    view.throttle._callback = view.refresh
    for _ in range(5):
        session.live.advance(50)  # five resultsChanged in a row
    assert view.throttle.pending and calls == []  # nothing recomputed yet: one refresh is scheduled
    view.throttle.flush()
    assert len(calls) == 1 and not view.throttle.pending
    mark = session.account_for_quote().mark_of(session.position)
    assert view.comparison.mark == mark != session.position.entry_price
    _assert_table_matches_cli(view, _cli_compare(capsys, session))


def test_a_cross_position_is_compared_inside_its_account(qtbot, profiles):
    # issue 9: Hyperliquid, cross, wallet 20,650, BTC 0.5 long at 95,000 and ETH 10 short at 3,300
    # marked at 3,600. The results say BTC's LP is 61,914; the starred Hyperliquid column said
    # 54,380 (the position alone). The column must say what the results say; "alone" is labelled.
    from core.compare import compare_position
    from core.model import Account, Position, Side
    from core.scenario import Scenario
    from gui.session import Session

    acct = Account("hyperliquid", 20_650, (Position("BTC", Side.LONG, 0.5, 95_000, 20, MarginMode.CROSS),
                                           Position("ETH", Side.SHORT, 10, 3_300, 20, MarginMode.CROSS)),
                   {"BTC": 95_000, "ETH": 3_600})
    session = Session(profiles, Scenario("hyperliquid", acct), seed=7, volatility=0.8)
    view = QtCompareView(session)
    qtbot.addWidget(view)
    tick = session.tick
    results_lp = session.position_quote.liquidation_price
    # BTC prices carry 6 - szDecimals 5 = 1 decimal (the meta response)
    assert view.cell("liquidation_price", "hyperliquid") == fmt.price(results_lp, tick) == "61,913.9"
    headers = [view.table.horizontalHeaderItem(i).text() for i in range(view.table.columnCount())]
    assert f"hyperliquid{YOURS}" in headers and "hyperliquid (alone)" in headers
    alone = compare_position([session.profile], session.position, mark=95_000, wallet=20_650)[0]
    col = headers.index("hyperliquid (alone)")
    assert view.table.item(4, col).text() == fmt.price(alone.liquidation_price, tick) == "54,379.7"
    # a profile that lists BTC but not ETH cannot hold this account: it says so
    assert "no ETH contract" in view.cell("initial_margin", "bybit")

"""File > Import Positions…: the account from an exchange's response as a new workspace, and the
account table's "Exch. LP" column (the exchange's liquidation price, a check or a warning)."""
from __future__ import annotations

from pathlib import Path

from gui.widgets.position_table import DIFFER_MARK, EXCHANGE_COLUMN, MATCH_MARK

DATA = Path(__file__).resolve().parent.parent / "data" / "positions"


def test_import_opens_a_new_workspace_with_the_exchange_column(window):
    table = window.table
    assert table.table.isColumnHidden(EXCHANGE_COLUMN)  # an ordinary workspace has no exchange figures
    summary = window.import_positions([DATA / "hyperliquid_ccxt_cross_short_2024.json"])
    assert summary is not None and "1 match" in summary and "1 differ" in summary
    s = window.session
    assert s.scenario.exchange == "hyperliquid" and s.scenario.audit is not None
    assert [p.symbol for p in s.account.positions] == ["SOL", "ETH"]
    assert not s.undo_stack.canUndo()  # a new workspace: the history starts again
    assert not table.table.isColumnHidden(EXCHANGE_COLUMN)
    sol_text, sol_tip = table.exchange_cell(0)
    assert sol_text == f"22,881.1979 {DIFFER_MARK}" and "table date" in sol_tip and "50x" in sol_tip
    eth_text, eth_tip = table.exchange_cell(1)
    assert eth_text == f"-- {MATCH_MARK}" and "neither shows a liquidation price" in eth_tip
    assert table.table.item(0, EXCHANGE_COLUMN).toolTip() == sol_tip
    assert any(e.kind == "file" and "Imported 2 positions" in e.detail for e in s.events)


def test_an_edited_position_loses_its_exchange_figure(window):
    window.import_positions([DATA / "hyperliquid_ccxt_isolated_hype_2025.json"])
    table = window.table
    assert table.exchange_cell(0)[0].endswith(MATCH_MARK)
    window.session.edit_position(0, leverage=5.0)
    text, tip = table.exchange_cell(0)
    assert text == "" and "Changed since the import" in tip
    window.session.undo_stack.undo()
    assert table.exchange_cell(0)[0].endswith(MATCH_MARK)


def test_a_save_keeps_the_exchange_figures(window, tmp_path):
    window.import_positions([DATA / "bybit_positions_isolated.json"])
    target = tmp_path / "mine.json"
    assert window._save_to(target, wait=True)
    window.new_file()
    assert window.table.table.isColumnHidden(EXCHANGE_COLUMN)
    assert window.open_file(target)
    assert window.table.exchange_cell(0)[0] == f"36,380.2 {MATCH_MARK}"


def test_a_bad_response_is_one_message_and_changes_nothing(window, answers, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"assetPositions": [{"position": {"coin": "ETH", "szi": "x"}}]}')
    before = window.session.scenario
    assert window.import_positions([bad]) is None
    assert window.session.scenario is before
    (title, text), = answers.informed
    assert title == "Could not import the positions" and "assetPositions[0].position.szi" in text


def test_no_profile_for_the_exchange_is_said(window, answers):
    assert window.import_positions([DATA / "okx_positions_swap.json"]) is None
    assert "no profile 'okx'" in answers.informed[0][1]


def test_an_imported_workspace_and_the_liquidation_page_never_widen_the_window(window):
    hint = window.minimumSizeHint()
    window.import_positions([DATA / "hyperliquid_sdk_user_state_2023.json"])  # 11 rows, the column shown
    window.whatif.show_target(173_198.7, "a long refusal " * 20)
    window.chart.readout.setText("liquidation at 173,198.7: the what-if tab shows the change; Apply makes it real " * 3)
    assert window.minimumSizeHint().width() <= max(hint.width(), 1000)


def test_a_leverage_the_profile_caps_is_marked_with_the_exchanges_figure(window):
    # The SDK's 2023 account reports 20x for ATOM (its leverage {"type": "cross", "value": 20});
    # the 2026 hyperliquid table allows ATOM at most 5x, so core.audit opened it at 5x and kept 20x
    # as the exchange's figure. The table must not show 5x as if the exchange had said it.
    window.import_positions([DATA / "hyperliquid_sdk_user_state_2023.json"])
    s = window.session
    row = [p.symbol for p in s.account.positions].index("ATOM")
    assert s.account.positions[row].leverage == 5.0
    item = window.table.table.item(row, 4)
    assert item.text() == "5x*"
    assert "The exchange reports 20x" in item.toolTip() and "at most 5x" in item.toolTip()
    btc = [p.symbol for p in s.account.positions].index("BTC")  # 20x allowed: no mark, no tip
    assert window.table.table.item(btc, 4).text() == "20x" and window.table.table.item(btc, 4).toolTip() == ""

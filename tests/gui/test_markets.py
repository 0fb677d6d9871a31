"""Hundreds of markets in the window: the searchable symbol field, File > Import Exchange Tiers…,
and the notice about an old table (aged against a fixed date, never the clock)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from gui import paths

DATA = Path(__file__).resolve().parent.parent / "data" / "responses"


def test_typing_sol_offers_solusdt_then_solusdc_with_their_leverage(window):
    window.session.set_profile("binance")
    form = window.form
    assert form.symbol.count() == 344
    form._symbol_typed("sol")
    entries = form._symbol_model.stringList()
    # the 2024-10-24 brackets: SOLUSDT and SOLUSDC both start at 100x
    assert entries[:2] == ["SOLUSDT  ·  up to 100x", "SOLUSDC  ·  up to 100x"]
    form._symbol_picked(entries[0])
    assert window.session.position.symbol == "SOLUSDT"


def test_switching_profile_keeps_the_underlying(window):
    window.session.set_profile("binance")
    window.form._symbol_picked(window.form.symbol_entry(window.session.profile, "SOLUSDT"))
    window.session.set_profile("hyperliquid")
    assert window.session.position.symbol == "SOL"
    assert window.form.symbol.currentData() == "SOL"


def test_import_exchange_tiers_uses_the_new_table_at_once(window):
    told: list[tuple[str, str]] = []
    window.tell = lambda title, text: told.append((title, text))  # type: ignore[method-assign]
    window.today = lambda: dt.date(2025, 1, 1)  # type: ignore[method-assign]
    summary = window.import_exchange_tiers(DATA / "bybit_risk_limit.json")
    assert summary is not None and told == [("Exchange tiers imported", summary)]
    assert "Imported bybit-risk-limit into profile 'bybit'" in summary  # what the CLI prints
    assert (paths.user_exchanges_dir() / "bybit.json").is_file()
    assert len(window.session.profiles.get("bybit").contract("BTCUSDT").tiers) == 3


def test_a_bad_response_is_one_message(window, answers, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"retCode": 0, "result": {"list": [{"symbol": "BTCUSDT"}]}}))
    assert window.import_exchange_tiers(bad) is None
    (title, text), = answers.informed
    assert title == "Could not import the tiers" and "bad.json: result.list[0].riskLimitValue: missing" in text


def test_an_old_table_is_flagged_in_the_status_bar(window):
    window.today = lambda: dt.date(2026, 12, 1)  # type: ignore[method-assign]
    window.session.set_profile("binance")
    window._show_table_age()
    assert window.age_label.text() == "⚠ old tables"
    assert "768 days old" in window.age_label.toolTip() and "--into binance" in window.age_label.toolTip()
    window.today = lambda: dt.date(2025, 1, 1)  # type: ignore[method-assign]
    window._show_table_age()
    assert window.age_label.text() == ""

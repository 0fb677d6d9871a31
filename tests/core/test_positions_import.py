"""Reading positions from saved exchange responses and `marginlab-cli positions` (core.positions_import,
core.positions_cli). The files are those of tests/data/positions/ (see tests/core/test_audit.py for
their sources); nothing here touches the network or the clock."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from core import cli
from core.audit import audit_account
from core.model import MarginMode, Side
from core.paths import exchanges_dir
from core.positions_import import PositionsImportError, detect_format, read_positions
from core.profiles import load_profiles
from core.scenario import load_scenario, scenario_to_dict

DATA = Path(__file__).resolve().parent.parent / "data" / "positions"
TODAY = dt.date(2025, 1, 1)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv), today=TODAY)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("name", "fmt"), [
    ("binance_position_risk_v2.json", "binance-position-risk"),
    ("binance_position_risk_v3_docs.json", "binance-position-risk"),
    ("binance_hedge_cross.json", "binance-position-risk"),  # positionRisk and account in one object
    ("bybit_positions_isolated.json", "bybit-positions"),
    ("okx_positions_docs.json", "okx-positions"),
    ("hyperliquid_docs_example.json", "hyperliquid-state"),
    ("ccxt_positions_hyperliquid.json", "ccxt-positions"),
])
def test_format_is_detected_from_the_content(name, fmt):
    assert detect_format(json.loads((DATA / name).read_text())) == fmt
    assert read_positions([DATA / name]).format == fmt


def test_hyperliquid_fields():
    # The docs example: szi 0.0335 (long), mark = positionValue / |szi| = 100.02765 / 0.0335 = 2985.9,
    # isolated margin = rawUsd + szi x entryPx = -95.059824 + 100.04105 = 4.981226.
    a = read_positions([DATA / "hyperliquid_docs_example.json"])
    (p,) = a.positions
    assert (p.symbol, p.side, p.qty, p.entry, p.mode) == ("ETH", Side.LONG, 0.0335, 2986.3, MarginMode.ISOLATED)
    assert p.mark == pytest.approx(2985.9) and p.margin == pytest.approx(4.981226)
    assert p.max_leverage == 50 and p.liquidation_price == 2866.26936529
    assert a.wallet == pytest.approx(13104.514502) and a.time_ms == 1708622398623


def test_hyperliquid_cross_wallet_is_the_account_value_less_the_upnl():
    # 2024-03-05: account value 19,762.483455; uPnL SOL 3.34 x (463.9594/3.34 - 112.0945) and
    # ETH 3.6 x (13,694.04/3.6 - 1,100): 89.56357 + 9,734.04; wallet = 19,762.483455 - 9,823.60357.
    a = read_positions([DATA / "hyperliquid_ccxt_cross_longs_2024.json"])
    assert a.wallet == pytest.approx(19762.483455 - (463.9594 - 3.34 * 112.0945) - (13694.04 - 3.6 * 1100.0))
    assert a.account_maintenance == pytest.approx(141.579994)


def test_binance_v3_leverage_and_margin_type_are_derived():
    # v3 has no leverage: |notional| / positionInitialMargin = 12.314277 / 0.61571385 = 20; no
    # isolated wallet: cross.
    (p,) = read_positions([DATA / "binance_position_risk_v3_docs.json"]).positions
    assert p.leverage == pytest.approx(20) and p.mode is MarginMode.CROSS and p.maintenance_margin == 0.0800428


def test_two_files_make_one_account():
    a = read_positions([DATA / "binance_position_risk_v3_docs.json", DATA / "binance_account_v2_docs.json"])
    assert a.wallet == pytest.approx(23.72469206) and len(a.positions) == 1


def test_hedge_legs_and_inverse_contracts_are_marked():
    legs = read_positions([DATA / "binance_hedge_cross.json"]).positions
    assert [p.hedge_leg for p in legs] == [True, True] and [p.side for p in legs] == [Side.LONG, Side.SHORT]
    assert read_positions([DATA / "bybit_positions_inverse_docs.json"]).positions[0].inverse


@pytest.mark.parametrize(("doc", "path", "problem"), [
    ({"retCode": 0, "result": {"list": [{"symbol": "BTCUSDT", "side": "Buy", "size": "abc", "avgPrice": "1"}]}},
     "result.list[0].size", "expected a number"),
    ({"assetPositions": [{"position": {"coin": "ETH", "szi": "1", "entryPx": "-5"}}]},
     "assetPositions[0].position.entryPx", "must be a finite number > 0"),
    ([{"symbol": "BTCUSDT", "positionAmt": "1", "liquidationPrice": "0", "entryPrice": "1", "markPrice": "1",
       "leverage": "5", "marginType": "crossed"}], "[0].marginType", "expected 'cross' or 'isolated'"),
    ({"assetPositions": [{"position": {"coin": "ETH", "szi": "1", "entryPx": "10", "positionValue": "10",
                                       "leverage": {"type": "isolated", "value": 5}}}]},
     "assetPositions[0].position.marginUsed", "missing"),
])
def test_a_malformed_file_is_refused_in_one_line_naming_file_and_path(capsys, tmp_path, doc, path, problem):
    f = tmp_path / "saved.json"
    f.write_text(json.dumps(doc))
    with pytest.raises(PositionsImportError) as exc:
        read_positions([f])
    assert exc.value.field == path and problem in exc.value.problem
    code, out, err = run(capsys, "positions", str(f))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"{f}: {path}: " in err and problem in err


def test_an_unrecognised_file_names_the_formats(capsys):
    code, _out, err = run(capsys, "positions", str(DATA.parent / "responses" / "bybit_risk_limit.json"))
    assert code == 2 and "not a positions response" in err and "hyperliquid-state" in err


def test_people_output_has_every_position_and_a_verdict(capsys):
    code, out, err = run(capsys, "positions", str(DATA / "hyperliquid_sdk_user_state_2023.json"))
    assert code == 0, err  # an unknown symbol (MATIC) is reported, never fatal to the others
    assert "LP exchange" in out and "LP MarginLab" in out and "bp" in out
    assert "12 MATIC long: unknown symbol" in out
    assert "Summary: 6 of 12 match, 5 explained, 0 unexplained, 1 not modelled." in out


def test_json_contract(capsys):
    code, out, err = run(capsys, "positions", str(DATA / "hyperliquid_ccxt_cross_short_2024.json"), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["format"] == "hyperliquid-state" and d["profile"]["id"] == "hyperliquid"
    sol = d["positions"][0]
    assert set(sol) >= {"exchange", "ours", "difference", "verdict"}
    assert sol["exchange"]["liquidation_price"] == 22881.19788911 and sol["exchange"]["max_leverage"] == 50
    assert sol["difference"]["bp"] == pytest.approx(
        (sol["ours"]["liquidation_price"] - 22881.19788911) / 22881.19788911 * 1e4)
    assert sol["verdict"]["code"] == "table"
    assert d["summary"] == {"positions": 2, "match": 1, "explained": 1, "explained_within_1bp": 2,
                            "unexplained": 0, "not_modelled": 0}
    assert d["cross_maintenance_margin"]["exchange"] == pytest.approx(38.8818)


def test_save_writes_a_scenario_the_window_opens_and_reads_back_equal(capsys, tmp_path):
    target = tmp_path / "mine.json"
    code, out, err = run(capsys, "positions", str(DATA / "hyperliquid_sdk_user_state_2023.json"), "--save", str(target))
    assert code == 0, err and "Saved" in out
    sc = load_scenario(target)
    assert sc.exchange == "hyperliquid" and len(sc.account.positions) == 11 and sc.audit is not None
    assert [x.symbol for x in sc.audit.left_out] == ["MATIC"]
    doc = json.loads(target.read_text())
    assert scenario_to_dict(sc) == doc  # round trip exact
    # the audit re-run from the file gives the same verdicts
    profile = load_profiles([exchanges_dir()]).get("hyperliquid")
    again = audit_account(profile, sc.account, sc.audit)
    assert [p.verdict.code for p in again.positions].count("table") == 5


def test_save_without_a_profile_says_why(capsys, tmp_path):
    code, _out, err = run(capsys, "positions", str(DATA / "okx_positions_swap.json"), "--save", str(tmp_path / "x.json"))
    assert code == 2 and "--save" in err and "okx" in err


def test_exchange_flag_audits_under_another_profile(capsys):
    code, out, _err = run(capsys, "positions", str(DATA / "okx_positions_docs.json"), "--exchange", "binance")
    assert code == 0 and "inverse" in out
    code, _out, err = run(capsys, "positions", str(DATA / "okx_positions_docs.json"), "--exchange", "nope")
    assert code == 2 and "--exchange" in err

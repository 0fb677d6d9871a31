"""The scenario file: round trip through an atomic save, and every malformed file refused with a
ScenarioError naming the file and the JSON path of the problem."""
from __future__ import annotations

import json

import pytest

from core.errors import ScenarioError
from core.model import Account, MarginMode, Position, Side
from core.scenario import SCHEMA_VERSION, Scenario, load_scenario, save_scenario, scenario_to_dict
from core.simspec import SimulationSpec, simulation_from_dict

GOOD = {
    "schema_version": 1,
    "kind": "marginlab.scenario",
    "name": "FAQ example",
    "exchange": "classic",
    "account": {
        "wallet": 1000,
        "positions": [
            {"symbol": "BTCUSDT", "side": "long", "qty": 5, "entry": 68000, "leverage": 10},
            {"symbol": "BTCUSDT", "side": "short", "qty": 0.5, "entry": 70000, "leverage": 20,
             "mode": "cross"},
        ],
        "marks": {"BTCUSDT": 66000},
    },
}


def _write(tmp_path, doc, name="s.json"):
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


def test_round_trip(tmp_path):
    acc = Account("binance", wallet_usd=1234.5, positions=(
        Position("BTCUSDT", Side.LONG, 0.25, 61_000.5, 12.5, margin_usd=1_500.0),
        Position("ETHUSDT", Side.SHORT, 3, 2_999.99, 5, mode=MarginMode.CROSS),
    ), marks={"BTCUSDT": 60_000.0})
    sim = simulation_from_dict({"path": {"kind": "gbm", "s0": 60_000, "sigma": 0.8, "dt": 1, "n": 10, "seed": 7},
                                "book": {"depth": 25, "half_spread": 0.0001},
                                "counterparties": [{"name": "bob", "side": "short", "qty": 2, "entry": 61_000,
                                                    "margin": 3_000}],
                                "actions": [{"t": 2.5, "kind": "stop_loss", "position": 1, "price": 3_100, "qty": 1}]})
    sc = Scenario(exchange="binance", account=acc, name="two legs", description="round trip", simulation=sim)
    path = tmp_path / "sub" / "two.json"
    save_scenario(path, sc)
    back = load_scenario(path)
    assert back == sc
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["schema_version"] == SCHEMA_VERSION and doc["kind"] == "marginlab.scenario"
    assert scenario_to_dict(back) == doc
    assert not list(path.parent.glob(".*.tmp"))  # no temp file left behind


def test_good_file_loads(tmp_path):
    sc = load_scenario(_write(tmp_path, GOOD))
    assert sc.exchange == "classic" and sc.name == "FAQ example"
    assert sc.account.positions[0].margin_usd is None
    assert sc.account.positions[1].mode is MarginMode.CROSS
    assert sc.account.mark_of(sc.account.positions[0]) == 66_000.0


def _with(path_keys, value):
    doc = json.loads(json.dumps(GOOD))
    node = doc
    for k in path_keys[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path_keys[-1]]
    else:
        node[path_keys[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        (_with(["schema_version"], 99), "schema_version", "newer"),
        (_with(["schema_version"], 0), "schema_version", "not a known version"),
        (_with(["schema_version"], "1"), "schema_version", "integer"),
        (_with(["kind"], "something.else"), "kind", "marginlab.scenario"),
        (_with(["exchange"], _DELETE), "exchange", "profile id"),
        (_with(["account"], []), "account", "object"),
        (_with(["account", "positions"], {}), "account.positions", "list"),
        (_with(["account", "positions", 0, "side"], "up"), "account.positions[0].side", "'long' or 'short'"),
        (_with(["account", "positions", 1, "mode"], "portfolio"), "account.positions[1].mode", "'isolated' or 'cross'"),
        (_with(["account", "positions", 0, "qty"], -5), "account.positions[0].qty", "in (0, 1e+15]"),
        (_with(["account", "positions", 0, "qty"], _DELETE), "account.positions[0].qty", "missing"),
        (_with(["account", "positions", 0, "entry"], "68000"), "account.positions[0].entry", "expected a number in (0, 1e+15]"),
        (_with(["account", "positions", 0, "leverage"], 0.5), "account.positions[0].leverage", "must be in [1, 1000]"),
        (_with(["account", "positions", 0, "symbol"], ""), "account.positions[0].symbol", "symbol"),
        (_with(["account", "marks"], {"BTCUSDT": 0}), "account.marks.BTCUSDT", "in (0, 1e+15]"),
        (_with(["account", "marks"], []), "account.marks", "object"),
        (_with(["account", "wallet"], -1), "account.wallet", "in [0, 1e+18]"),
        (_with(["simulation"], 5), "simulation", "object"),
        ([1, 2], "(document)", "JSON object"),
    ],
)
def test_malformed_documents(tmp_path, doc, field, words):
    path = _write(tmp_path, doc)
    with pytest.raises(ScenarioError) as ei:
        load_scenario(path)
    err = ei.value
    assert err.path == str(path) and str(path) in str(err)
    assert err.field == field
    assert words in err.problem


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not valid JSON (line 1"),
        ('{"schema_version": 1, "account": {"wallet": NaN}}', "NaN is not allowed"),
        ('{"schema_version": 1, "account": {"wallet": Infinity}}', "Infinity is not allowed"),
    ],
)
def test_unparsable_files(tmp_path, text, words):
    with pytest.raises(ScenarioError) as ei:
        load_scenario(_write(tmp_path, text))
    assert words in ei.value.problem


def test_binary_and_missing_files(tmp_path):
    p = tmp_path / "bin.json"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ScenarioError, match="UTF-8"):
        load_scenario(p)
    with pytest.raises(ScenarioError):
        load_scenario(tmp_path / "missing.json")


def test_save_refuses_nan_and_keeps_old_file(tmp_path):
    path = _write(tmp_path, GOOD)
    before = path.read_text(encoding="utf-8")
    sc = load_scenario(path)
    bad = Scenario(exchange=sc.exchange, account=sc.account, simulation=SimulationSpec(path={"x": float("nan")}))
    with pytest.raises(ValueError):
        save_scenario(path, bad)
    assert path.read_text(encoding="utf-8") == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_audit_section_round_trips_and_files_without_it_still_load(tmp_path):
    # An imported account keeps the exchange's figures (docs/scenario-format.md, "audit"): optional,
    # read back equal, and a file without it reads as before (GOOD above has none).
    from core.reported import AuditRecord, LeftOut, Reported, ReportedEntry

    acc = Account("hyperliquid", wallet_usd=1_000.5, positions=(
        Position("ETH", Side.LONG, 0.0335, 2986.3, 20, margin_usd=4.981226),), marks={"ETH": 2985.9})
    record = AuditRecord(
        format="hyperliquid-state", source="state.json", time_ms=1708622398623, account_maintenance=0.0,
        entries=(ReportedEntry(acc.positions[0], Reported("ETH", 2866.26936529, max_leverage=50.0)),),
        left_out=(LeftOut("MATIC", "long", 76.6, 1.03483, None, "unknown_symbol: no MATIC", mark=1.036,
                          mode="cross"),), notes=("one note",))
    sc = Scenario(exchange="hyperliquid", account=acc, audit=record)
    path = tmp_path / "imported.json"
    save_scenario(path, sc)
    assert load_scenario(path) == sc
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert scenario_to_dict(load_scenario(path)) == doc
    assert doc["audit"]["entries"][0]["reported"] == {"symbol": "ETH", "liquidation_price": 2866.26936529,
                                                      "max_leverage": 50.0}
    assert load_scenario(_write(tmp_path, GOOD)).audit is None


def test_a_bad_audit_section_names_its_path(tmp_path):
    doc = dict(GOOD, audit={"format": "hyperliquid-state", "entries": [
        {"position": GOOD["account"]["positions"][0], "reported": {"symbol": "BTC", "liquidation_price": -1}}]})
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_write(tmp_path, doc))
    assert exc.value.field == "audit.entries[0].reported.liquidation_price"

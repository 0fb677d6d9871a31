"""The scenario file's `simulation` section: validation naming the JSON path, round trip, run."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.paths import exchanges_dir, scenarios_dir
from core.profiles import load_profiles
from core.scenario import load_scenario, scenario_from_dict
from core.simulate import build_path, run_scenario, simulation_from_dict, simulation_to_dict

PROFILES = load_profiles([exchanges_dir()])

FAQ_DOC = {
    "schema_version": 1, "kind": "marginlab.scenario", "exchange": "classic",
    "account": {"wallet": 0, "positions": [{"symbol": "BTCUSDT", "side": "long", "qty": 5, "entry": 68000,
                                            "leverage": 10}]},
    "simulation": {"path": {"kind": "points", "t": [0, 1], "mark": [68000, 61500]}},
}

FULL = {
    "symbol": "BTCUSDT",
    "path": {"kind": "gbm", "s0": 68000, "mu": 0.1, "sigma": 0.8, "dt": 1, "n": 100, "seed": 7,
             "jumps": {"rate": 50, "mean": -0.05, "std": 0.02}, "wick": {"t_start": 10, "duration": 2, "price": 60000},
             "mark_window_s": 30},
    "book": {"depth": 10, "half_spread": 0.0002, "max_slippage": 0.03},
    "insurance_fund": 1000,
    "counterparties": [{"name": "bob", "side": "short", "qty": 5, "entry": 64000, "margin": 5000}],
    "actions": [{"t": 5, "kind": "add_margin", "position": 0, "amount": 1000},
                {"t": 6, "kind": "stop_loss", "position": 0, "price": 60000, "qty": 1},
                {"t": 7, "kind": "change_leverage", "position": 0, "leverage": 5},
                {"t": 8, "kind": "reduce", "position": 0, "qty": 0.5}],
}


def test_round_trip():
    spec = simulation_from_dict(FULL)
    again = simulation_from_dict(simulation_to_dict(spec))
    assert again == spec
    assert json.loads(json.dumps(simulation_to_dict(spec))) == simulation_to_dict(spec)


@pytest.mark.parametrize(("patch", "message"), [
    ({"path": {"kind": "gbm", "s0": 100, "sigma": -1, "dt": 1, "n": 10}}, "simulation.path.sigma: must be in (0, 10], got -1"),
    ({"path": {"kind": "brownian"}}, "simulation.path.kind: expected one of gbm, linear_crash, gap, points, csv"),
    ({"path": {"kind": "gap", "s0": 100, "s1": 90, "dt": 1, "n": 10}}, "simulation.path.t_gap: missing"),
    ({"path": {"kind": "points", "t": [0, 0], "mark": [1, 1]}}, "simulation.path.t[1]: times must increase"),
    ({"path": {"kind": "points", "t": [0, 1], "mark": [1]}}, "simulation.path.mark: expected 2 numbers"),
    ({"path": {"kind": "points", "t": [0, 1], "mark": [1, -2]}}, "simulation.path.mark[1]: must be in (0, 1e+15], got -2"),
    ({"path": {"kind": "linear_crash", "s0": 1, "s1": 1, "dt": 1, "n": 5, "t_start": 3, "t_end": 2}},
     "simulation.path.t_end: must be in (3, 3.1536e+08], got 2"),
    ({"path": {"kind": "points", "t": [0], "mark": [1], "colour": "red"}}, "simulation.path.colour: unknown key"),
    ({"book": {"depth": 0}}, "simulation.book.depth: must be > 0, got 0"),
    ({"insurance_fund": -5}, "simulation.insurance_fund: must be in [0, 1e+18], got -5"),
    ({"counterparties": [{"name": "x", "side": "up", "qty": 1, "entry": 1, "margin": 1}]},
     "simulation.counterparties[0].side: expected 'long' or 'short'"),
    ({"actions": [{"t": 1, "kind": "teleport"}]}, "simulation.actions[0].kind: expected one of"),
    ({"actions": [{"t": 1, "kind": "add_margin", "amount": "lots"}]},
     "simulation.actions[0].amount: expected a number in (0, 1e+18], got 'lots'"),
    ({"actions": [{"t": 1, "kind": "change_leverage", "leverage": 0.5}]},
     "simulation.actions[0].leverage: must be in [1, 1000], got 0.5"),
    ({"wallet": 1}, "simulation.wallet: unknown key"),
])
def test_bad_sections_name_the_json_path(patch, message):
    raw = {"path": {"kind": "points", "t": [0, 1], "mark": [1, 1]}} | patch
    with pytest.raises(InvalidInputError) as err:
        simulation_from_dict(raw)
    assert str(err.value).startswith(message)


def test_path_kinds_build(tmp_path):
    p = build_path({"kind": "linear_crash", "s0": 100, "s1": 50, "t_start": 1, "t_end": 3, "dt": 1, "n": 4})
    assert p.mark.tolist() == [100, 100, 75, 50, 50]
    p = build_path({"kind": "gap", "s0": 100, "s1": 50, "t_gap": 2, "dt": 1, "n": 3})
    assert p.mark.tolist() == [100, 100, 50, 50]
    # the wick changes last only; with mark_window_s = 10 (10 samples at dt 1) the mark shows
    # 1/10 of a one-sample wick of depth 40: 100 - 4 = 96
    p = build_path({"kind": "points", "t": [0, 20], "mark": [100, 100], "dt": 1,
                    "wick": {"t_start": 15, "duration": 1, "price": 60}, "mark_window_s": 10})
    assert p.last.min() == 60
    assert p.mark.min() == pytest.approx(96.0)
    # GBM: annualised sigma on 1 s steps, seeded
    a = build_path(FULL["path"])
    b = build_path(FULL["path"])
    assert np.array_equal(a.mark, b.mark) and len(a) == 101
    (tmp_path / "p.csv").write_text("timestamp,price\n0,10\n1,11\n", encoding="utf-8")
    p = build_path({"kind": "csv", "file": "p.csv"}, base_dir=tmp_path)
    assert p.mark.tolist() == [10, 11]
    (tmp_path / "bad.csv").write_text("timestamp,price\n0,10\n1,x\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        build_path({"kind": "csv", "file": "bad.csv"}, base_dir=tmp_path)
    assert str(err.value) == "simulation.path.file: bad.csv line 3: price 'x' is not a number"


def test_run_scenario_faq():
    # the FAQ crash of test_simulate.py through the file format: 1,500 to the fund
    res = run_scenario(scenario_from_dict(FAQ_DOC), PROFILES)
    assert res.party("insurance_fund").end == pytest.approx(1_500.0)


def test_run_scenario_refuses_what_it_cannot_run(tmp_path):
    doc = json.loads(json.dumps(FAQ_DOC))
    del doc["simulation"]
    with pytest.raises(InvalidInputError, match="simulation: missing"):
        run_scenario(scenario_from_dict(doc), PROFILES)
    doc = json.loads(json.dumps(FAQ_DOC))
    doc["simulation"]["actions"] = [{"t": 50, "kind": "reduce", "qty": 1}]
    with pytest.raises(InvalidInputError) as err:
        run_scenario(scenario_from_dict(doc), PROFILES)
    assert err.value.field == "simulation.actions[0].t"
    doc = json.loads(json.dumps(FAQ_DOC))
    doc["simulation"]["symbol"] = "DOGEUSDT"
    with pytest.raises(InvalidInputError) as err:
        run_scenario(scenario_from_dict(doc), PROFILES)
    assert err.value.field == "simulation.symbol"
    doc = json.loads(json.dumps(FAQ_DOC))
    doc["account"]["positions"][0]["leverage"] = 120
    with pytest.raises(InvalidInputError) as err:
        run_scenario(scenario_from_dict(doc), PROFILES)
    assert err.value.field == "account.positions[0].leverage"
    doc = json.loads(json.dumps(FAQ_DOC))
    doc["simulation"]["actions"] = [{"t": 0, "kind": "change_leverage", "leverage": 200}]
    with pytest.raises(InvalidInputError) as err:
        run_scenario(scenario_from_dict(doc), PROFILES)
    assert err.value.field == "simulation.actions[0].leverage"
    assert "above the tier maximum" in err.value.reason


def test_scenario_file_loads_and_runs(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps(FAQ_DOC), encoding="utf-8")
    res = run_scenario(load_scenario(f), PROFILES, base_dir=tmp_path)
    assert [e.kind.value for e in res.events][-1] == "insurance_fund_inflow"


# --------------------------------------------------------------- Scenario.simulation is typed


def test_a_scenario_holds_its_simulation_section_validated():
    from core.simspec import SimulationSpec

    sc = scenario_from_dict(FAQ_DOC)
    assert isinstance(sc.simulation, SimulationSpec)
    assert sc.simulation.path == FAQ_DOC["simulation"]["path"]
    assert sc.simulation.path is not FAQ_DOC["simulation"]["path"]  # the spec owns its copy


def test_a_bad_simulation_section_is_refused_when_the_file_is_read(tmp_path):
    from core.errors import ScenarioError

    doc = json.loads(json.dumps(FAQ_DOC))
    doc["simulation"]["path"] = {"kind": "gbm", "s0": 100, "sigma": -1, "dt": 1, "n": 10}
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    assert err.value.field == "simulation.path.sigma" and str(f) in str(err.value)


@pytest.mark.parametrize("name", sorted(p.name for p in scenarios_dir().glob("*.json")))
def test_every_shipped_scenario_round_trips_exactly(tmp_path, name):
    from core.scenario import save_scenario, scenario_to_dict

    sc = load_scenario(scenarios_dir() / name)
    save_scenario(tmp_path / name, sc)
    again = load_scenario(tmp_path / name)
    assert again == sc
    assert scenario_to_dict(again) == scenario_to_dict(sc)
    if sc.simulation is not None:
        assert json.loads(json.dumps(simulation_to_dict(sc.simulation))) == simulation_to_dict(again.simulation)

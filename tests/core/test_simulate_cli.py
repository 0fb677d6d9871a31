"""`simulate FILE [--json]`: the summary, the JSON contract, one-line errors with status 2."""
from __future__ import annotations

import json

import pytest

from core import cli
from core.simulate_cli import main, run

FAQ_DOC = {
    "schema_version": 1, "kind": "marginlab.scenario", "exchange": "classic", "name": "FAQ crash",
    "account": {"wallet": 0, "positions": [{"symbol": "BTCUSDT", "side": "long", "qty": 5, "entry": 68000,
                                            "leverage": 10}]},
    "simulation": {"path": {"kind": "points", "t": [0, 1], "mark": [68000, 61500]}},
}


@pytest.fixture
def faq_file(tmp_path):
    f = tmp_path / "faq.json"
    f.write_text(json.dumps(FAQ_DOC), encoding="utf-8")
    return f


def test_the_cli_runs_the_command_with_this_module(faq_file, capsys):
    args = cli.build_parser().parse_args(["simulate", str(faq_file), "--json"])
    assert cli.COMMANDS["simulate"] == "core.simulate_cli:run"
    assert run(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"events", "ledger", "parties"} <= set(out)
    # every ledger row and party carries exactly the contract's keys
    assert all(set(tr) == {"t", "from", "to", "amount", "reason"} for tr in out["ledger"])
    assert all(set(p) == {"name", "start", "end"} for p in out["parties"])
    parties = {p["name"]: (p["start"], p["end"]) for p in out["parties"]}
    # the FAQ crash (test_simulate.py): 34,000 margin lost, 32,500 to the market, 1,500 to the fund
    assert parties["trader.isolated.BTCUSDT"] == (34_000, 0)
    assert parties["market"] == (0, 32_500)
    assert parties["insurance_fund"][1] == pytest.approx(1_500)
    assert [e["kind"] for e in out["events"]] == ["liquidation_triggered", "orders_cancelled",
                                                  "liquidation_fill", "insurance_fund_inflow"]
    liq = out["liquidations"][0]
    assert (liq["entry"], liq["fill_price"]) == (68_000, 61_500)
    assert liq["liquidation_price"] == pytest.approx(61_880)


def test_summary_for_people(faq_file, capsys):
    assert main([str(faq_file)]) == 0
    out = capsys.readouterr().out
    assert "FAQ crash" in out
    assert "insurance_fund_inflow" in out
    assert "liquidation 61,880" in out and "bankruptcy 61,200" in out and "fill 61,500" in out
    assert "Money conserved" in out


@pytest.mark.parametrize(("patch", "needle"), [
    (lambda d: d["simulation"].update(path={"kind": "gbm", "s0": 1, "sigma": -1, "dt": 1, "n": 5}),
     "simulation.path.sigma: must be in (0, 10], got -1"),
    (lambda d: d["simulation"].update(actions=[{"t": 0, "kind": "add_margin", "amount": -3}]),
     "simulation.actions[0].amount: must be in (0, 1e+18], got -3"),
    (lambda d: d.update(exchange="nowhere"), "exchange: 'nowhere' is not a known profile"),
    (lambda d: d.pop("simulation"), "simulation: missing"),
])
def test_bad_files_exit_2_with_one_line(tmp_path, capsys, patch, needle):
    doc = json.loads(json.dumps(FAQ_DOC))
    patch(doc)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    assert main([str(f), "--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1
    assert str(f) in lines[0] and needle in lines[0]


def test_missing_file(tmp_path, capsys):
    assert main([str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err

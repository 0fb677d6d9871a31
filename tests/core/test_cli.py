"""marginlab-cli: the JSON contract, people's output, one-line errors, the portfolio files."""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core import cli
from core.model import Account
from core.paths import exchanges_dir, scenarios_dir
from core.profiles import load_profiles
from core.quote import quote_account
from core.scenario import load_scenario

FAQ = ["quote", "--exchange", "classic", "--symbol", "BTCUSDT", "--side", "long", "--qty", "5",
       "--entry", "68000", "--leverage", "10"]
PORTFOLIOS = sorted(scenarios_dir().glob("portfolio-*.json"))


#: The date the CLI is told it is: the shipped tables are young then, so no age notes (never the clock).
TODAY = dt.date(2025, 1, 1)


def run(capsys, *argv: str, today: dt.date = TODAY) -> tuple[int, str, str]:
    code = cli.main(list(argv), today=today)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------------------------------------
# quote


def test_faq_example_json(capsys):
    # docs/domain.md §5, the source FAQ corrected: 5 BTC long at 68,000, 10x, flat MMR 1 % on the
    # entry notional 340,000: IM = 340,000/10 = 34,000; MM = 1 % x 340,000 = 3,400;
    # LP = 68,000 - (34,000 - 3,400)/5 = 61,880; BP = 68,000 - 34,000/5 = 61,200.
    d = run_json(capsys, *FAQ)
    assert d["initial_margin"] == 34_000
    assert d["maintenance_margin"] == 3_400
    assert d["liquidation_price"] == 61_880
    assert d["bankruptcy_price"] == 61_200
    assert d["notional"] == 340_000 and d["margin"] == 34_000 and d["unrealized_pnl"] == 0
    assert d["margin_ratio"] == pytest.approx(0.1)  # 3,400 / 34,000
    assert d["liquidatable_now"] is False
    # The classic table: 250k-1M is tier 3 (index 2), 50x, 1 %, no maintenance amount.
    assert d["tier"] == {"index": 2, "floor": 250_000, "cap": 1_000_000, "max_leverage": 50,
                         "mmr": 0.01, "maintenance_amount": 0}


def test_faq_example_explain_says_why_not_64940(capsys):
    code, out, err = run(capsys, *FAQ, "--explain")
    assert code == 0 and err == ""
    assert "Liquidation price" in out and "61,880.0" in out  # rounded to the 0.1 tick
    text = " ".join(out.split())
    assert "68,000 - (34,000 - 3,400) / 5 = 61,880" in text
    assert "64,940" in text and "divided by the 5 units held" in text


def test_json_with_explain_carries_the_arithmetic(capsys):
    d = run_json(capsys, *FAQ, "--explain")
    assert "64,940" in d["explain"]["liquidation_price"]


def test_console_script_in_a_subprocess():
    exe = shutil.which("marginlab-cli", path=str(Path(sys.executable).parent))
    assert exe, "the console script is installed with the package (pip install -e .)"
    r = subprocess.run([exe, *FAQ, "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)  # docs/domain.md §5 as above
    assert (d["initial_margin"], d["maintenance_margin"], d["liquidation_price"], d["bankruptcy_price"]) == (
        34_000, 3_400, 61_880, 61_200)
    bad = subprocess.run([exe, *FAQ[:-1], "60"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "--leverage" in bad.stderr and "50x" in bad.stderr
    # A terminal that cannot encode "Ⓢ" (Binance USDⓈ-M) still gets its answer.
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    narrow = subprocess.run([exe, "profiles"], capture_output=True, text=True, timeout=60, env=env)
    assert narrow.returncode == 0 and "Binance USD?-M" in narrow.stdout


def test_cross_mode_with_wallet(capsys):
    # Binance BTCUSDT (2024-10-24 brackets), 1 BTC long at 60,000, 10x, cross on 10,000 USDT.
    # Target q*EP - WB = 50,000 >= the key of bracket 2, 50,000 - (0.5 % x 50,000 - 50) = 49,800,
    # and below bracket 3's 597,050: MMR 0.5 %, cum 50.
    # LP = (60,000 - 10,000 - 50) / (1 x (1 - 0.005)) = 49,950 / 0.995; BP = 60,000 - 10,000.
    d = run_json(capsys, "quote", "--exchange", "binance", "--symbol", "BTCUSDT", "--side", "long",
                 "--qty", "1", "--entry", "60000", "--leverage", "10", "--mode", "cross", "--wallet", "10000")
    assert d["liquidation_price"] == pytest.approx(49_950 / 0.995, rel=1e-12)
    assert d["bankruptcy_price"] == pytest.approx(50_000, rel=1e-12)
    assert d["margin"] == 10_000 and d["mode"] == "cross"
    assert d["liquidation_tier"]["index"] == 1


def test_no_liquidation_price_is_null_and_dashes(capsys):
    # A 1x long backed by more than its notional can never be liquidated (docs/domain.md §1).
    args = ["quote", "--exchange", "binance", "--side", "long", "--qty", "1", "--entry", "60000",
            "--leverage", "1", "--mode", "cross", "--wallet", "100000"]
    d = run_json(capsys, *args)
    assert d["liquidation_price"] is None and d["bankruptcy_price"] is None
    code, out, _ = run(capsys, *args)
    assert code == 0
    lp_line = next(line for line in out.splitlines() if "Liquidation price" in line)
    assert lp_line.split()[-1] == "--"


def test_mark_moves_pnl_and_can_make_it_liquidatable(capsys):
    # FAQ position with the mark at 61,800, below the 61,880 LP: uPnL = 5 x (61,800 - 68,000)
    # = -31,000; equity 3,000 < MM 3,400 (entry basis, fixed): liquidatable.
    d = run_json(capsys, *FAQ, "--mark", "61800")
    assert d["unrealized_pnl"] == -31_000
    assert d["liquidatable_now"] is True
    assert d["margin_ratio"] == pytest.approx(3_400 / 3_000)


def test_people_output_rounds_to_the_tick(capsys):
    # Hyperliquid BTC (szDecimals 5) prices carry at most 6 - 5 = 1 decimal; the JSON stays unrounded.
    args = ["quote", "--exchange", "hyperliquid", "--symbol", "BTCUSDT", "--side", "long",
            "--qty", "0.3", "--entry", "97123.45", "--leverage", "7"]
    d = run_json(capsys, *args)
    assert d["symbol"] == "BTC" and d["quote_currency"] == "USDC"
    assert d["liquidation_price"] != round(d["liquidation_price"], 1)
    _, out, _ = run(capsys, *args)
    lp_line = next(line for line in out.splitlines() if "Liquidation price" in line)
    assert lp_line.split()[-1] == f"{round(d['liquidation_price'], 1):,.1f}"


def test_custom_contract_overrides(capsys):
    # docs/domain.md §5: the FAQ position with a flat 1 % rate gives 61,880 on the entry basis and
    # (340,000 - 34,000) / (5 x (1 - 0.01)) = 61,818.18 on the mark basis.
    base = ["quote", "--exchange", "binance", "--side", "long", "--qty", "5", "--entry", "68000",
            "--leverage", "10", "--mmr", "0.01", "--max-leverage", "50"]
    entry = run_json(capsys, *base, "--mm-basis", "entry")
    mark = run_json(capsys, *base)
    assert entry["liquidation_price"] == pytest.approx(61_880, rel=1e-12)
    assert mark["liquidation_price"] == pytest.approx(306_000 / 4.95, rel=1e-12)
    assert mark["tier"]["mmr"] == 0.01 and mark["tier"]["max_leverage"] == 50
    assert mark["overrides"] == {"mmr": 0.01, "maintenance_amount": 0.0, "max_leverage": 50}
    # A maintenance amount of 400 lowers MM to 3,000 and moves the entry-basis LP to
    # 68,000 - (34,000 - 3,000)/5 = 61,800.
    d = run_json(capsys, *base, "--mm-basis", "entry", "--maintenance-amount", "400")
    assert d["maintenance_margin"] == pytest.approx(3_000) and d["liquidation_price"] == pytest.approx(61_800)
    # A contract the profile does not list is fine with --mmr.
    d = run_json(capsys, *base, "--symbol", "DOGEUSDT", "--entry", "0.2")
    assert d["symbol"] == "DOGEUSDT" and d["liquidation_price"] is not None


def test_taker_in_mmr_override_raises_the_rate(capsys):
    # taker_in_mmr: MMR 1 % + taker 0.05 % = 1.05 %; entry basis MM = 1.05 % x 340,000 = 3,570;
    # LP = 68,000 - (34,000 - 3,570)/5 = 61,914.
    d = run_json(capsys, *FAQ, "--fee-model", "taker_in_mmr", "--taker-fee", "0.0005")
    assert d["maintenance_margin"] == pytest.approx(3_570)
    assert d["liquidation_price"] == pytest.approx(61_914)


def test_max_leverage_alone_caps_every_tier(capsys):
    code, _, err = run(capsys, *FAQ[:-1], "10", "--max-leverage", "5")
    assert code == 2 and "--leverage" in err and "maximum of 5x" in err


# ---------------------------------------------------------------------------------------------
# Bad input: status 2, one line naming the flag and the range, no traceback


@pytest.mark.parametrize(("argv", "expected"), [
    ([*FAQ[:-1], "60"], ["--leverage", "maximum of 50x", "allowed 1-50"]),
    ([*FAQ[:-1], "0.5"], ["--leverage", "in [1, 1000]"]),
    ([*FAQ[:8], "nan", *FAQ[9:]], ["--qty", "finite", "in (0, 1e+15]", "nan"]),
    ([*FAQ[:8], "-5", *FAQ[9:]], ["--qty", "in (0, 1e+15]", "-5"]),
    ([*FAQ[:10], "inf", *FAQ[11:]], ["--entry", "finite"]),
    ([*FAQ[:10], "68,000", *FAQ[11:]], ["--entry", "expected a number"]),
    ([*FAQ[:6], "up", *FAQ[7:]], ["--side", "'long', 'short'"]),
    (["quote", "--exchange", "kraken", *FAQ[3:]], ["--exchange", "binance, binance-coinm, bitmex, bybit, bybit-inverse, classic, hyperliquid"]),
    (["quote", "--exchange", "binance", "--symbol", "SOLANA", *FAQ[5:]], ["--symbol", "closest: SOLUSDT"]),
    (FAQ[:-2], ["required", "--leverage"]),
    ([*FAQ, "--margin", "0"], ["--margin", "in (0, 1e+18]"]),
    ([*FAQ, "--wallet", "5000"], ["--wallet", "--mode cross"]),
    ([*FAQ, "--mode", "cross", "--margin", "5000"], ["--margin", "--mode isolated"]),
    ([*FAQ, "--mode", "cross", "--wallet", "-1"], ["--wallet", "in [0, 1e+18]"]),
    ([*FAQ, "--mark", "nan"], ["--mark", "finite"]),
    ([*FAQ, "--mmr", "1"], ["--mmr", "in (0, 1)"]),
    ([*FAQ, "--taker-fee", "0.5"], ["--taker-fee", "in [0, 0.1]"]),
    ([*FAQ, "--maintenance-amount", "10"], ["--maintenance-amount", "--mmr"]),
    ([*FAQ, "--fee-model", "gas"], ["--fee-model", "close_fee"]),
    ([*FAQ, "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
    ([*FAQ[:8], "5000", *FAQ[9:]], ["--qty", "above the largest tier", "5,000,000"]),
    ([*FAQ, "--profiles-dir", "/no/such/dir"], ["--profiles-dir", "not a directory"]),
    (["frobnicate"], ["invalid choice", "quote"]),
    ([], ["choose a command", "quote, profiles, compare, evaluate"]),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("marginlab-cli")
    assert "Traceback" not in err
    for piece in expected:
        assert piece in err, (piece, err)


def test_help_and_version_exit_0(capsys):
    code, out, _ = run(capsys, "quote", "--help")
    assert code == 0 and "--maintenance-amount" in out and "--profiles-dir" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("marginlab-cli ")


# ---------------------------------------------------------------------------------------------
# profiles, --profiles-dir and warnings


CLASSIC_COPY = (exchanges_dir() / "classic.toml").read_text(encoding="utf-8")


def test_profiles_lists_profiles_symbols_dates_sources(capsys):
    d = run_json(capsys, "profiles")
    by_id = {p["id"]: p for p in d["profiles"]}
    assert set(by_id) == {"binance", "binance-coinm", "bitmex", "bybit", "bybit-inverse", "classic", "hyperliquid"}
    assert by_id["binance"]["as_of"] == "2024-10-24"  # binance.toml
    assert by_id["binance"]["source"].startswith("https://github.com/freqtrade/freqtrade/blob/")
    assert len(by_id["binance"]["symbols"]) == 344  # every USDT/USDC perpetual of the snapshot
    hl = [s["symbol"] for s in by_id["hyperliquid"]["symbols"]]
    assert len(hl) == 189 and hl[:2] == ["BTC", "ETH"] and {"SOL", "XRP", "kPEPE", "HYPE"} <= set(hl)
    assert by_id["binance"]["symbols"][0]["tiers"] == 12
    assert by_id["classic"]["rules"]["mm_basis"] == "entry"
    assert d["errors"] == []
    code, out, _ = run(capsys, "profiles")
    assert code == 0 and "hyperliquid" in out and "as of 2026-01-01" in out and "344 contracts" in out


def test_profiles_dir_adds_profiles_and_warns_about_refused_files(capsys, tmp_path):
    (tmp_path / "mine.toml").write_text(CLASSIC_COPY.replace('id = "classic"', 'id = "mine"'), encoding="utf-8")
    (tmp_path / "broken.toml").write_text(CLASSIC_COPY.replace('as_of = "2024-06-01"', 'as_of = 5'),
                                          encoding="utf-8")
    code, out, err = run(capsys, "profiles", "--profiles-dir", str(tmp_path), "--json")
    assert code == 0
    ids = [p["id"] for p in json.loads(out)["profiles"]]
    assert "mine" in ids and "classic" in ids
    lines = err.splitlines()
    assert len(lines) == 1 and "warning" in lines[0]
    assert "broken.toml" in lines[0] and "as_of" in lines[0]
    # The user's profile quotes like the one it copies (docs/domain.md §5 numbers).
    d = run_json(capsys, "quote", "--exchange", "mine", *FAQ[3:], "--profiles-dir", str(tmp_path))
    assert d["exchange"] == "mine" and d["liquidation_price"] == 61_880


# ---------------------------------------------------------------------------------------------
# compare


def test_compare_maps_symbols_and_matches_quote(capsys):
    pos = ["--side", "long", "--qty", "5", "--entry", "68000", "--leverage", "10"]
    d = run_json(capsys, "compare", "--symbol", "BTCUSDT", *pos)
    cols = {c["id"]: c for c in d["profiles"]}
    assert set(cols) == {"binance", "binance-coinm", "bitmex", "bybit", "bybit-inverse", "classic", "hyperliquid"}
    assert all(c["ok"] for c in cols.values())
    # the inverse contracts get the same position by notional at entry: 340,000 USD
    assert cols["binance-coinm"]["quote"]["qty"] == 3_400 and cols["bitmex"]["quote"]["qty"] == 340_000
    assert cols["binance-coinm"]["quote"]["settle_asset"] == "BTC" and "converted" in cols["binance-coinm"]
    assert cols["hyperliquid"]["quote"]["symbol"] == "BTC"
    assert cols["binance"]["quote"]["symbol"] == "BTCUSDT"
    assert cols["classic"]["quote"]["liquidation_price"] == 61_880  # docs/domain.md §5
    for pid, col in cols.items():  # each column is what `quote` says for that profile
        if col["quote"]["contract_type"] == "inverse":
            continue  # sized in contracts: below
        q = run_json(capsys, "quote", "--exchange", pid, "--symbol", "BTC", *pos)
        for key in ("initial_margin", "maintenance_margin", "liquidation_price", "bankruptcy_price", "tier"):
            assert col["quote"][key] == q[key], (pid, key)


def test_compare_shows_the_reason_where_a_profile_cannot_quote(capsys):
    pos = ["--symbol", "ETH", "--side", "short", "--qty", "100", "--entry", "3400", "--leverage", "50"]
    d = run_json(capsys, "compare", *pos)
    cols = {c["id"]: c for c in d["profiles"]}
    assert cols["binance"]["ok"] and cols["binance"]["quote"]["symbol"] == "ETHUSDT"
    assert not cols["classic"]["ok"] and "no ETH contract" in cols["classic"]["error"]["message"]
    # Hyperliquid ETH allows 25x (margin tiers doc, docs/domain.md §2).
    assert not cols["hyperliquid"]["ok"]
    assert cols["hyperliquid"]["error"]["field"] == "--leverage" and "25x" in cols["hyperliquid"]["error"]["message"]
    code, out, _ = run(capsys, "compare", *pos)
    assert code == 0
    header = out.splitlines()[2]
    assert header.split() == ["binance-coinm", "binance", "bitmex", "bybit-inverse", "bybit", "classic", "hyperliquid"]
    assert "no ETH contract" in " ".join(out.split())
    assert "25x" in out and "(not available)" in out


def test_compare_only_some_profiles(capsys):
    # HYPE is listed on Hyperliquid, not in Binance's 2024-10-24 snapshot
    d = run_json(capsys, "compare", "--exchange", "binance", "--exchange", "hyperliquid", "--symbol", "HYPE",
                 "--side", "long", "--qty", "10", "--entry", "30", "--leverage", "5")
    assert [c["id"] for c in d["profiles"]] == ["binance", "hyperliquid"]
    assert [c["ok"] for c in d["profiles"]] == [False, True]


def test_compare_explain_names_the_rules(capsys):
    # The FAQ position (docs/domain.md §5) against classic: Binance re-quoted with classic's tier table
    # is the flat 1 % on the mark: (340,000 - 34,000) / (5 x 0.99) = 61,818.18.
    pos = ["--symbol", "BTC", "--side", "long", "--qty", "5", "--entry", "68000", "--leverage", "10"]
    d = run_json(capsys, "compare", *pos, "--explain", "--reference", "classic")
    text = " ".join(d["explanations"])
    assert "binance: LP 61,497.5 vs classic 61,880.0" in text
    assert "61,818.2" in text and "mm_basis" in text and "close_fee" in text
    code, out, _ = run(capsys, "compare", *pos, "--explain")
    assert code == 0 and "Why they differ:" in out
    code, _, err = run(capsys, "compare", *pos, "--exchange", "binance", "--reference", "bybit")
    assert code == 2 and err.count("\n") == 1 and "--reference" in err and "binance" in err


# ---------------------------------------------------------------------------------------------
# evaluate


def test_shipped_portfolios_exist_and_load():
    assert len(PORTFOLIOS) >= 2
    for path in PORTFOLIOS:
        sc = load_scenario(path)
        assert len(sc.account.positions) >= 2
    modes = {p.mode.value for path in PORTFOLIOS for p in load_scenario(path).account.positions}
    assert modes == {"isolated", "cross"}


@pytest.mark.parametrize("path", PORTFOLIOS, ids=[p.name for p in PORTFOLIOS])
def test_evaluate_every_shipped_portfolio(capsys, path):
    d = run_json(capsys, "evaluate", str(path))
    sc = load_scenario(path)
    assert d["exchange"] == sc.exchange and d["name"] == sc.name
    assert len(d["positions"]) == len(sc.account.positions)
    for key in ("wallet", "cross_equity", "cross_maintenance_margin", "cross_margin_ratio",
                "cross_liquidatable_now"):
        assert key in d
    code, out, err = run(capsys, "evaluate", str(path))
    assert code == 0 and err == ""
    assert all(p.symbol in out for p in sc.account.positions)
    # Each liquidation price is where that position's equity meets its maintenance margin with
    # the other positions held at their marks (docs/domain.md §1): move the mark there and check.
    profile = load_profiles([exchanges_dir()]).get(sc.exchange)
    for i, pos in enumerate(d["positions"]):
        lp = pos["liquidation_price"]
        if lp is None:
            continue
        moved: Account = sc.account.with_mark(pos["symbol"], lp)
        aq = quote_account(profile, moved)
        if pos["mode"] == "cross":
            assert aq.cross_equity == pytest.approx(aq.cross_maintenance, rel=1e-9, abs=1e-6)
        else:
            q = aq.positions[i]
            assert q.equity == pytest.approx(q.maintenance_margin, rel=1e-9, abs=1e-6)


def test_evaluate_binance_cross_by_hand(capsys):
    # portfolio-binance-cross.json: wallet 20,000; ETH short 30 @ 3,500 marked 3,440:
    # uPnL +1,800, MM at mark 0.5 % x 103,200 - 50 = 466 (bracket 2). The BTC long's collateral
    # WB' = 20,000 + 1,800 - 466 = 21,334; q*EP - WB' = 100,500 - 21,334 = 79,166 is in bracket 2
    # (keys 49,800 and 597,050), so LP = (100,500 - 21,334 - 50) / (1.5 x 0.995) = 79,116 / 1.4925.
    d = run_json(capsys, "evaluate", str(scenarios_dir() / "portfolio-binance-cross.json"))
    btc, eth = d["positions"]
    assert eth["unrealized_pnl"] == pytest.approx(1_800) and eth["maintenance_margin"] == pytest.approx(466)
    assert btc["liquidation_price"] == pytest.approx(79_116 / 1.4925, rel=1e-12)
    assert d["cross_equity"] == pytest.approx(20_000)  # -1,800 on BTC, +1,800 on ETH


def test_evaluate_under_another_profile_maps_symbols(capsys):
    d = run_json(capsys, "evaluate", str(scenarios_dir() / "portfolio-binance-cross.json"),
                 "--exchange", "hyperliquid")
    assert d["exchange"] == "hyperliquid"
    assert [p["symbol"] for p in d["positions"]] == ["BTC", "ETH"]
    assert [p["mark"] for p in d["positions"]] == [65_800, 3_440]  # the marks follow their positions


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _doc(**changes) -> dict:
    doc = json.loads((scenarios_dir() / "portfolio-mixed.json").read_text(encoding="utf-8"))
    doc.update(changes)
    return doc


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["account"]["positions"][1].update(leverage=200), ["account.positions[1].leverage", "allowed 1-"]),
    (lambda d: d["account"]["positions"][0].update(qty=-1), ["account.positions[0].qty", "in (0, 1e+15]"]),
    (lambda d: d.update(exchange="kraken"), ["exchange", "binance, binance-coinm"]),
    (lambda d: d["account"]["positions"][0].update(symbol="SOLANAUSDT"), ["account.positions[0].symbol", "no SOLANA"]),
    (lambda d: d["account"].update(wallet=-5), ["account.wallet", "in [0, 1e+18]"]),
    (lambda d: d["account"].update(positions=[]), ["account.positions", "no positions"]),
    (lambda d: d.update(schema_version=99), ["schema_version", "newer"]),
])
def test_evaluate_bad_file_names_file_and_field(capsys, tmp_path, mutate, expected):
    doc = _doc()
    mutate(doc)
    path = _write(tmp_path, doc)
    code, out, err = run(capsys, "evaluate", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(path) in err
    for piece in expected:
        assert piece in err, (piece, err)


def test_evaluate_missing_and_non_json_files(capsys, tmp_path):
    code, _, err = run(capsys, "evaluate", str(tmp_path / "none.json"))
    assert code == 2 and err.count("\n") == 1 and "none.json" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json", encoding="utf-8")
    code, _, err = run(capsys, "evaluate", str(bad))
    assert code == 2 and err.count("\n") == 1 and "not valid JSON" in err


# ---------------------------------------------------------------------------------------------
# The command table


def test_every_command_has_flags_and_a_function():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(cli.COMMANDS)  # help order is the table's order
    for name, target in cli.COMMANDS.items():
        module, _, func = target.partition(":")
        assert callable(getattr(importlib.import_module(module), func)), name


@pytest.mark.slow
def test_a_command_module_is_imported_only_when_the_command_runs():
    # `quote` must not pay for loading the simulator; `simulate` loads it when it runs.
    code = ("import sys; from core import cli; cli.main(['profiles', '--json']); "
            "before = 'core.simulate' in sys.modules; "
            "cli.main(['simulate', '--json', sys.argv[1]]); print(before, 'core.simulate' in sys.modules)")
    lesson = str(scenarios_dir() / "lesson-faq-crash.json")
    r = subprocess.run([sys.executable, "-c", code, lesson], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "False True"
    # `python -m core.cli` runs the same table
    m = subprocess.run([sys.executable, "-m", "core.cli", "profiles", "--profiles-dir", "/nonexistent/x"],
                       capture_output=True, text=True, timeout=120)
    assert (m.returncode, m.stderr) == (2, "marginlab-cli profiles: error: --profiles-dir: /nonexistent/x is "
                                           "not a directory\n")


def test_evaluate_explain(capsys):
    code, out, _ = run(capsys, "evaluate", str(scenarios_dir() / "portfolio-mixed.json"), "--explain")
    assert code == 0
    assert "#0 BTCUSDT long:" in out and "#1 ETHUSDT long:" in out
    assert "LP solves" in out  # Binance: mark basis, the equation written out
    d = run_json(capsys, "evaluate", str(scenarios_dir() / "portfolio-mixed.json"), "--explain")
    assert all("liquidation_price" in p["explain"] for p in d["positions"])

"""Importing tier tables from the exchanges' own responses (core.tier_import, `marginlab-cli profiles import`).

The responses in tests/data/responses/ are small and hand-made in each exchange's documented shape
(docs/domain.md §10); every maintenance amount in them is the continuity recursion's (worked in the
comments), so the round trip can be checked exactly. Nothing here touches the network or the clock.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import pytest

from core import cli
from core.errors import ProfileError
from core.paths import exchanges_dir
from core.profiles import FeeModel, load_profile, load_profiles, stale_notice
from core.tier_import import TierImportError, detect_format, import_tables, read_response

DATA = Path(__file__).resolve().parent.parent / "data" / "responses"
TODAY = dt.date(2025, 1, 1)
SHIPPED = load_profiles([exchanges_dir()])


def _import(tmp_path: Path, name: str, **kw):  # type: ignore[no-untyped-def]
    tables = read_response(DATA / name, prices=kw.pop("prices", None), contract_values=kw.pop("contract_values", None))
    return tables, import_tables(tables, directory=tmp_path, today=TODAY, base_profiles=SHIPPED.profiles, **kw)


@pytest.mark.parametrize(("name", "fmt"), [
    ("binance_brackets.json", "binance-brackets"),
    ("ccxt_tiers.json", "ccxt-tiers"),
    ("bybit_risk_limit.json", "bybit-risk-limit"),
    ("okx_position_tiers.json", "okx-position-tiers"),
    ("hyperliquid_meta.json", "hyperliquid-meta"),
])
def test_format_is_detected_from_the_content(name, fmt):
    assert detect_format(json.loads((DATA / name).read_text())) == fmt


def test_binance_brackets_round_trip(tmp_path):
    tables, result = _import(tmp_path, "binance_brackets.json")
    assert result.profile_id == "binance" and result.path == tmp_path / "binance.json"
    assert result.added == ("NEWCOINUSDT",)
    p = load_profile(result.path)
    # the rules stay Binance's; the shipped contracts are kept (344 + DOGEUSDT, SOLUSDT replaced)
    assert p.rules == SHIPPED.get("binance").rules and len(p.symbols) == 344 + 1
    sol = p.contract("SOLUSDT").tiers
    # SOLUSDT: cum 0, 30 = 20,000 x (0.65 % - 0.5 %), 380 = 30 + 100,000 x (1 % - 0.65 %)
    assert sol.floor.tolist() == [0, 20_000, 100_000] and sol.cap.tolist() == [20_000, 100_000, 500_000]
    assert sol.max_leverage.tolist() == [100, 75, 50] and sol.mmr.tolist() == [0.005, 0.0065, 0.01]
    assert sol.cum.tolist() == pytest.approx([0, 30, 380])
    assert p.contract("BTCUSDT").liquidation_fee == 0.003  # the shipped contract's clearance fee is kept
    assert result.changed and "SOLUSDT" in result.changed  # the shipped SOLUSDT had other tiers
    assert [c.symbol for c in tables.contracts] == ["SOLUSDT", "NEWCOINUSDT"]


def test_ccxt_dump_needs_into_and_keeps_only_stablecoin_perpetuals(tmp_path):
    tables = read_response(DATA / "ccxt_tiers.json")
    with pytest.raises(TierImportError) as ei:
        import_tables(tables, into=None, directory=tmp_path, today=TODAY)
    assert "--into" in str(ei.value)
    result = import_tables(tables, into="binance", directory=tmp_path, today=TODAY, base_profiles=SHIPPED.profiles)
    assert result.skipped == ("BTC/USDT:USDT-250328 (dated future)",)
    p = load_profile(result.path)
    wif = p.contract("WIFUSDC")
    # no cum in the dump: derived, 5,000 x (2.5 % - 2 %) = 25
    assert wif.quote == "USDC" and wif.tiers.cum.tolist() == pytest.approx([0, 25])
    assert p.contract("SOLUSDT").tiers.cum.tolist() == pytest.approx([0, 30])


def test_bybit_risk_limits_become_a_full_ladder(tmp_path):
    _, result = _import(tmp_path, "bybit_risk_limit.json")
    p = load_profile(result.path)
    assert p.rules.fee_model is FeeModel.CLOSE_FEE  # Bybit's rules are kept
    btc = p.contract("BTCUSDT").tiers
    # floors are the previous risk limit; mmDeduction 10,000 = 2,000,000 x (1 % - 0.5 %), given or derived
    assert btc.floor.tolist() == [0, 2_000_000, 4_000_000] and btc.cap.tolist() == [2_000_000, 4_000_000, 6_000_000]
    assert btc.cum.tolist() == pytest.approx([0, 10_000, 30_000]) and btc.max_leverage.tolist() == [100, 57.14, 40]
    # the shipped BTCUSDT ladder (20 tiers, 0.5 %, 0.56 %, 0.63 %, ...) is replaced by the imported
    # 3: tiers 2 and 3 change rate, tiers 4-20 go
    changes = {c.index: (c.old_mmr, c.new_mmr) for c in result.changed["BTCUSDT"]}
    assert changes[1] == (0.0056, 0.01) and changes[2] == (0.0063, 0.015)
    assert all(changes[k][1] is None for k in range(3, 20))
    assert p.contract("DOGEUSDT").tiers.cum.tolist() == pytest.approx([0, 4_000])  # 800,000 x 0.5 %
    # a position above 2,000,000 is no longer refused: 50 BTC at 68,000 = 3.4M sits in tier 2
    code = cli.main(["quote", "--exchange", "bybit", "--symbol", "BTC", "--side", "short", "--qty", "50",
                     "--entry", "68000", "--leverage", "20", "--profiles-dir", str(tmp_path), "--json"], today=TODAY)
    assert code == 0


def test_okx_tiers_are_converted_from_contracts_at_the_given_price(tmp_path):
    with pytest.raises(TierImportError) as ei:
        read_response(DATA / "okx_position_tiers.json")
    assert "--contract-value" in str(ei.value) and "data[0]" in str(ei.value)
    _, result = _import(tmp_path, "okx_position_tiers.json", prices={"BTC-USDT-SWAP": 50_000},
                        contract_values={"BTC-USDT-SWAP": 0.01})
    p = load_profile(result.path)
    t = p.contract("BTC-USDT-SWAP").tiers
    # 2,000 contracts x 0.01 BTC x 50,000 = 1,000,000; OKX charges MMR x value, no deduction
    assert t.cap.tolist() == [1_000_000, 2_000_000, 5_000_000] and t.cum.tolist() == [0, 0, 0]
    # no okx profile is shipped: OKX's own rules are written (MM on the mark, the taker fee in the
    # maintenance rate, the tier of the position's size, which does not move with the price)
    r = p.rules
    assert (r.mm_basis.value, r.fee_model, r.tier_at_liquidation, r.taker_fee) == ("mark", FeeModel.TAKER_IN_MMR,
                                                                                   False, 0.0005)


def test_hyperliquid_meta_tables_lots_and_ticks(tmp_path):
    _, result = _import(tmp_path, "hyperliquid_meta.json")
    assert result.skipped == ("MATIC (delisted)",)
    p = load_profile(result.path)
    assert p.rules.mmr_from_max_leverage
    pepe = p.contract("kPEPE")
    assert pepe.lot_size == 1 and pepe.tick_size == pytest.approx(1e-6)  # szDecimals 0: 6 decimals
    assert pepe.tiers.max_leverage.tolist() == [10, 5]
    # MMR 1/(2 x 10) = 5 %, 1/(2 x 5) = 10 %; deduction 20,000,000 x 5 % = 1,000,000
    assert pepe.tiers.mmr.tolist() == [0.05, 0.1] and pepe.tiers.cum.tolist() == pytest.approx([0, 1_000_000])
    gmx = p.contract("GMX")  # table id 3 (< 50) is one tier at 3x
    assert gmx.tiers.max_leverage.tolist() == [3] and math.isinf(gmx.tiers.max_notional)
    assert p.contract("BTC").tick_size == pytest.approx(0.1)


def test_second_import_reports_changes_and_keeps_a_dated_backup(tmp_path):
    _import(tmp_path, "bybit_risk_limit.json")
    changed = json.loads((DATA / "bybit_risk_limit.json").read_text())
    changed["result"]["list"][1].update(maintenanceMargin="0.0105", maxLeverage="50", mmDeduction="11000")
    changed["result"]["list"][2].update(mmDeduction="29000")  # 11,000 + 4,000,000 x (1.5 % - 1.05 %)
    src = tmp_path / "new.json"
    src.write_text(json.dumps(changed))
    result = import_tables(read_response(src), into=None, directory=tmp_path, today=dt.date(2025, 2, 1))
    assert result.backup == tmp_path / "bybit.json.2025-02-01.bak" and result.backup.is_file()
    (ch,) = result.changed["BTCUSDT"]
    # old and new MMR and max leverage of the changed tier, said in the summary
    assert (ch.index, ch.old_mmr, ch.new_mmr, ch.old_max_leverage, ch.new_max_leverage) == (1, 0.01, 0.0105, 57.14, 50)
    text = "\n".join(result.summary_lines())
    assert "BTCUSDT tier 2: MMR 1.000 % -> 1.050 %, max leverage 57.14x -> 50x" in text
    assert "1 symbol unchanged" in text  # DOGEUSDT


def test_an_imported_json_replaces_a_users_toml_of_the_same_id(tmp_path):
    shutil.copy(exchanges_dir() / "bybit.toml", tmp_path / "bybit.toml")
    _import(tmp_path, "bybit_risk_limit.json")
    assert not (tmp_path / "bybit.toml").exists() and (tmp_path / "bybit.toml.2025-01-01.bak").is_file()
    ps = load_profiles([exchanges_dir(), tmp_path])
    assert ps.errors == () and len(ps.get("bybit").contract("BTCUSDT").tiers) == 3


def _bad(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    data = json.loads((DATA / "binance_brackets.json").read_text())
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("edit", "where", "words"), [
    (lambda d: d[0]["brackets"][1].update(notionalFloor=25_000), "[0].brackets[1]", "contiguous"),
    (lambda d: d[0]["brackets"][1].update(maintMarginRatio=0.005, cum=0), "[0].brackets[1]", "must rise"),
    (lambda d: d[0]["brackets"][1].update(initialLeverage=125), "[0].brackets[1]", "max_leverage"),
    (lambda d: d[1]["brackets"][1].update(initialLeverage=50, maintMarginRatio=0.02, cum=150),
     "[1].brackets[1]", "not below 1 / max leverage"),
    (lambda d: d[0]["brackets"][2].update(cum=999), "[0].brackets[2]", "continuity recursion's 380"),
    (lambda d: d[0]["brackets"][0].pop("maintMarginRatio"), "[0].brackets[0].maintMarginRatio", "missing"),
    (lambda d: d[0]["brackets"][0].update(initialLeverage="lots"), "[0].brackets[0].initialLeverage",
     "expected a number"),
])
def test_a_table_that_is_not_a_ladder_is_refused_naming_file_and_path(tmp_path, edit, where, words):
    path = _bad(tmp_path, edit)
    with pytest.raises(TierImportError) as ei:
        read_response(path)
    err = ei.value
    assert err.path == str(path) and err.key == where and words in err.problem, str(err)
    assert "\n" not in str(err)


@pytest.mark.parametrize(("text", "words"), [
    ("{", "not valid JSON"),
    ('{"hello": 1}', "not a response MarginLab can import"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_a_file_that_is_not_a_response_is_one_line(tmp_path, text, words):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(ProfileError) as ei:
        read_response(path)
    assert words in str(ei.value) and str(path) in str(ei.value)


def test_cli_import_prints_the_summary_and_refuses_in_one_line(tmp_path, capsys):
    code = cli.main(["profiles", "import", str(DATA / "binance_brackets.json"), "--as-of", "2024-12-30",
                     "--profiles-dir", str(tmp_path)], today=TODAY)
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "1 symbol added: NEWCOINUSDT" in out
    # the shipped SOLUSDT had 9 brackets; this file has 3, the third with another cap
    assert "SOLUSDT tier 3: MMR 1.000 % -> 1.000 %, max leverage 50x -> 50x, cap" in out
    assert "SOLUSDT tier 4: MMR 2.000 % -> (none), max leverage 25x -> (none)" in out
    assert load_profile(tmp_path / "binance.json").as_of == "2024-12-30"
    # the user's folder (what the marginlab-cli script passes) is the default target
    code = cli.main(["profiles", "import", str(DATA / "hyperliquid_meta.json")], user_profiles_dir=tmp_path,
                    today=TODAY)
    assert code == 0 and (tmp_path / "hyperliquid.json").is_file()
    capsys.readouterr()
    code = cli.main(["profiles", "import", str(_bad(tmp_path, lambda d: d[0]["brackets"][1].update(
        notionalFloor=25_000)))], user_profiles_dir=tmp_path, today=TODAY)
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "bad.json: [0].brackets[1]:" in err
    code = cli.main(["profiles", "import", str(DATA / "binance_brackets.json")], today=TODAY)
    _, err = capsys.readouterr()
    assert code == 2 and "--profiles-dir" in err


def test_stale_notice_names_the_refresh_command(capsys):
    binance = SHIPPED.get("binance")
    assert stale_notice(binance, today=dt.date(2025, 4, 22)) is None  # 180 days old
    notice = stale_notice(binance, today=dt.date(2025, 4, 23))
    assert notice is not None and "181 days old" in notice and "profiles import FILE --into binance" in notice
    assert stale_notice(SHIPPED.get("classic"), today=dt.date(2030, 1, 1)) is None  # the FAQ's table
    code = cli.main(["quote", "--exchange", "binance", "--symbol", "SOL", "--side", "long", "--qty", "10",
                     "--entry", "150", "--leverage", "10", "--json"], today=dt.date(2026, 12, 1))
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["symbol"] == "SOLUSDT"
    assert err.startswith("marginlab-cli quote: note: binance tables are from 2024-10-24, 768 days old")

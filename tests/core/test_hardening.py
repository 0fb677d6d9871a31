"""No traceback, ever, and no file that stops MarginLab: the command line and the file readers.

Each test feeds what a user, a crash or a hostile file could give, and expects one clear line (exit 2
for a refusal, 0 where the input is valid), with the file or field named.
"""
from __future__ import annotations

import json
import os
import stat

import pytest

from core import cli
from core.errors import FileFormatError, ProfileError
from core.paths import exchanges_dir
from core.persistence import atomic_write_text, read_json_file, read_text_file
from core.profiles import load_profile, load_profiles

FAQ = ["quote", "--exchange", "classic", "--symbol", "BTCUSDT", "--side", "long", "--qty", "5",
       "--entry", "68000", "--leverage", "10"]


def run(capsys, *argv: str, **kw) -> tuple[int, str, str]:
    code = cli.main(list(argv), **kw)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _scenario(tmp_path, text: str):
    p = tmp_path / "s.json"
    p.write_text(text, encoding="utf-8")
    return p


VALID = {"schema_version": 1, "exchange": "classic",
         "account": {"wallet": 0, "positions": [{"symbol": "BTCUSDT", "side": "long", "qty": 5,
                                                 "entry": 68_000, "leverage": 10}]}}


@pytest.mark.parametrize(("text", "expected"), [
    (json.dumps(VALID).replace('"wallet": 0', '"wallet": ' + "1" + "0" * 400), "account.wallet"),
    (json.dumps(VALID).replace('"qty": 5', '"qty": ' + "9" * 500), "qty"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (json.dumps({**VALID, "name": [[[[[[[[[[]]]]]]]]]]}), ""),  # harmless: a name that is not text
    ('{"schema_version": 1, "exchange": "classic", "account": {"wallet": NaN}}', "NaN is not allowed"),
    ("9" * 5_000, "digits"),  # beyond Python's integer-string limit
])
def test_hostile_scenario_files_give_one_line(capsys, tmp_path, text, expected):
    code, _out, err = run(capsys, "evaluate", str(_scenario(tmp_path, text)))
    if expected:
        assert code == 2 and expected in err and err.count("\n") == 1, err
    else:
        assert code == 0, err


def test_an_endless_file_is_refused_not_read(capsys):
    code, _out, err = run(capsys, "evaluate", "/dev/zero")
    assert code == 2 and "not a regular file" in err


def test_huge_valid_prices_print_and_absurd_ones_are_refused(capsys):
    # issue 10: `quote ... --mark 1e30` crashed in core.fmt. Up to 1e15 a price is taken (and a
    # notional past 1e15 prints in scientific notation); past it, one line names the flag.
    code, out, err = run(capsys, *FAQ, "--mark", "1e15")
    assert code == 0, err
    assert "5e+15 USDT" in out  # the notional, 5 x 1e15
    code, _out, err = run(capsys, *FAQ, "--mark", "1e30")
    assert code == 2 and "--mark: must be in (0, 1e+15], got 1e+30" in err


def test_an_unexpected_failure_is_one_line_not_a_traceback(capsys, monkeypatch):
    def boom(_args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "_command_function", lambda _name: boom)
    monkeypatch.delenv("MARGINLAB_DEBUG", raising=False)
    code, _out, err = run(capsys, *FAQ)
    assert code == 1 and err.count("\n") == 1
    assert "internal error: ZeroDivisionError: a bug" in err and "MARGINLAB_DEBUG=1" in err


# ---------------------------------------------------------------------------------------------
# Profiles: a damaged file is skipped with one warning, the others load


DAMAGED_PROFILES = {
    "not_utf8.toml": b'schema_version = 1\nname = "\xff"\n',
    "nested.toml": ("x = " + "[" * 50_000 + "]" * 50_000 + "\n").encode(),
    "huge.toml": (exchanges_dir() / "classic.toml").read_bytes().replace(b'id = "classic"', b'id = "huge"')
    .replace(b"cap = 50_000", b"cap = " + b"5" * 400, 1),
}


@pytest.mark.parametrize("name", sorted(DAMAGED_PROFILES))
def test_a_damaged_profile_is_one_warning(capsys, tmp_path, name):
    (tmp_path / name).write_bytes(DAMAGED_PROFILES[name])
    code, out, err = run(capsys, *FAQ, "--profiles-dir", str(tmp_path))
    assert code == 0 and "61,880.0" in out
    assert err.count("\n") == 1 and name in err and "file skipped" in err
    with pytest.raises(ProfileError):
        load_profile(tmp_path / name)


def test_the_command_line_reads_the_users_exchanges_folder(capsys, tmp_path):
    # issue 10: the window quoted MM 153.00 with a user's table, the CLI 136.00 with the shipped one
    user = tmp_path / "exchanges"
    user.mkdir()
    mine = (exchanges_dir() / "classic.toml").read_text(encoding="utf-8").replace("mmr = 0.01\n", "mmr = 0.011\n", 1)
    (user / "classic.toml").write_text(mine, encoding="utf-8")
    assert load_profiles([exchanges_dir(), user]).get("classic").contract("BTCUSDT").tiers.mmr[2] == 0.011
    _, shipped, _ = run(capsys, *FAQ)
    _, theirs, _ = run(capsys, *FAQ, user_profiles_dir=user)
    assert "3,400.00 USDT" in shipped and "3,740.00 USDT" in theirs  # 1 % vs 1.1 % of 340,000


def test_the_console_script_passes_the_users_folder(capsys, tmp_path, monkeypatch):
    from gui import cli_main, paths

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    folder = paths.user_exchanges_dir()
    folder.mkdir(parents=True)
    mine = (exchanges_dir() / "classic.toml").read_text(encoding="utf-8").replace("mmr = 0.01\n", "mmr = 0.011\n", 1)
    (folder / "classic.toml").write_text(mine, encoding="utf-8")
    assert cli_main.main(FAQ) == 0
    assert "3,740.00 USDT" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Reading and writing files


def test_readers_refuse_devices_and_oversized_files(tmp_path):
    with pytest.raises(FileFormatError, match="not a regular file"):
        read_text_file("/dev/zero", max_bytes=10)
    with pytest.raises(FileFormatError, match="not a regular file"):
        read_text_file(tmp_path, max_bytes=10)
    big = tmp_path / "big.json"
    big.write_text("[" + "0," * 100 + "0]", encoding="utf-8")
    with pytest.raises(FileFormatError, match="may hold at most 100"):
        read_json_file(big, max_bytes=100)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FileFormatError, match="not a regular file"):
        read_text_file(fifo, max_bytes=10)  # would block forever if opened


def test_a_save_to_a_symbolic_link_writes_through_to_its_target(tmp_path):
    target = tmp_path / "real" / "scenario.json"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "links" / "link.json"
    link.parent.mkdir()
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink() and stat.S_ISLNK(os.lstat(link).st_mode)
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in link.parent.iterdir()] == ["link.json"]  # no stray temp file
    assert [p.name for p in target.parent.iterdir()] == ["scenario.json"]


# ---------------------------------------------------------------------------------------------
# No silently wrong number: what cannot be a real rule table is refused


def _classic_with(tmp_path, old: str, new: str):
    text = (exchanges_dir() / "classic.toml").read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "x.toml"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    # a first tier with a maintenance amount: MM negative for every small position
    ("mmr = 0.004\nmaintenance_amount = 0\n", "mmr = 0.004\nmaintenance_amount = 100\n",
     "tiers[0].maintenance_amount", "must be 0 in the first tier"),
    ("tick_size = 0.1\n", "tick_size = 1e300\n", "tick_size", "in (0, 10000]"),
    ("lot_size = 0.001\n", "lot_size = 1e300\n", "lot_size", "in (0, 1e+09]"),
])
def test_a_table_that_cannot_be_real_is_refused(tmp_path, old, new, key, words):
    with pytest.raises(ProfileError) as ei:
        load_profile(_classic_with(tmp_path, old, new))
    assert key in ei.value.key and words in ei.value.problem, ei.value


def test_a_custom_maintenance_amount_above_mmr_times_notional_is_refused(capsys):
    # issue 10: --mmr 0.01 --maintenance-amount 5000 gave MM -1,600 and an LP below the BP, exit 0
    code, _out, err = run(capsys, *FAQ, "--mmr", "0.01", "--maintenance-amount", "5000")
    assert code == 2 and "--maintenance-amount" in err and "allowed 0-3,400" in err
    code, out, err = run(capsys, *FAQ, "--mmr", "0.01", "--maintenance-amount", "1000")
    assert code == 0 and "2,400.00 USDT" in out  # 1 % of 340,000 - 1,000


# ---------------------------------------------------------------------------------------------
# Simulation paths: documented limits, each refused in one line naming its field


def _sim(tmp_path, path: dict, actions: list | None = None) -> str:
    doc = {**VALID, "simulation": {"path": path, "actions": actions or []}}
    p = tmp_path / "sim.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


GBM = {"kind": "gbm", "s0": 68_000, "sigma": 0.8, "dt": 1, "n": 100}


@pytest.mark.parametrize(("path", "actions", "expected"), [
    ({**GBM, "n": 2e9}, None, "simulation.path.n: must be in [1, 5e+07]"),
    ({"kind": "points", "t": [0, 10], "mark": [68_000, 60_000], "dt": 1e-9}, None,
     "simulation.path.dt: 1e-09 s over 10 s makes"),
    ({**GBM, "jumps": {"rate": 1e300, "mean": -0.1}}, None, "simulation.path.jumps.rate: must be in [0, 1e+06]"),
    ({**GBM, "sigma": 0.1, "mu": 9.9, "dt": 3e6}, None, "simulation.path.sigma: with mu, sigma and jumps"),
    ({**GBM, "mu": 1e6}, None, "simulation.path.mu: must be in [-10, 10]"),
    ({**GBM, "n": 1e7, "dt": 100}, None, "simulation.path.n: the path would last"),
    ({"kind": "points", "t": [0, 1, 2], "mark": [100, 100, 1], "last": [100, 0.001, 1], "mark_window_s": 3},
     None, "simulation.path.mark_window_s: index + averaged basis is not positive"),
    (GBM, [{"t": 1, "kind": "add_margin", "amount": 1e308}], "simulation.actions[0].amount: must be in (0, 1e+18]"),
    (GBM, [{"t": 1e300, "kind": "reduce", "qty": 1}], "simulation.actions[0].t: must be in [0, 3.1536e+08]"),
])
def test_simulation_limits_are_one_line_naming_the_field(capsys, tmp_path, path, actions, expected):
    code, _out, err = run(capsys, "simulate", _sim(tmp_path, path, actions))
    assert code == 2 and expected in err and err.count("\n") == 1, err
    assert "RuntimeWarning" not in err


def test_a_csv_path_resolves_against_the_scenario_folder_and_must_be_a_file(capsys, tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "prices.csv").write_text("timestamp,price\n0,68000\n1,61000\n", encoding="utf-8")
    code, _out, err = run(capsys, "simulate", _sim(folder, {"kind": "csv", "file": "prices.csv"}))
    assert code == 0, err  # found beside the scenario, whatever the working folder
    for target, words in (("/dev/zero", "not a regular file"), ("../", "not a regular file")):
        code, _out, err = run(capsys, "simulate", _sim(folder, {"kind": "csv", "file": target}))
        assert code == 2 and "simulation.path.file" in err and words in err, err


# ---------------------------------------------------------------------------------------------
# The class, not just the cases: random documents shaped like scenarios never reach a traceback

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ANY_NUMBER = st.one_of(st.integers(min_value=-(10**500), max_value=10**500), st.floats(allow_nan=False),
                        st.sampled_from([0, -1, 1e308, 1e-320, 2**63, 10**400]))
_JSON = st.recursive(st.one_of(st.none(), st.booleans(), _ANY_NUMBER, st.text(max_size=20)),
                     lambda inner: st.one_of(st.lists(inner, max_size=4),
                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=20)
_KEYS = {"schema_version": st.one_of(st.just(1), _JSON), "exchange": st.sampled_from(["classic", "binance", 3]),
         "account": st.fixed_dictionaries({}, optional={
             "wallet": _ANY_NUMBER, "marks": _JSON,
             "positions": st.lists(st.fixed_dictionaries({}, optional={
                 k: _JSON | _ANY_NUMBER for k in ("symbol", "side", "qty", "entry", "leverage", "mode", "margin")}),
                 max_size=2)}),
         "simulation": st.fixed_dictionaries({}, optional={
             "path": st.fixed_dictionaries({"kind": st.sampled_from(["gbm", "points", "gap", "linear_crash", "csv"])},
                                           optional={k: _ANY_NUMBER | _JSON for k in
                                                     ("s0", "s1", "sigma", "mu", "dt", "n", "t", "mark", "jumps",
                                                      "t_gap", "t_start", "t_end", "file", "wick")}),
             "actions": _JSON, "counterparties": _JSON, "book": _JSON, "insurance_fund": _ANY_NUMBER})}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=st.fixed_dictionaries({}, optional=_KEYS), command=st.sampled_from(["evaluate", "simulate"]))
def test_random_scenario_documents_never_reach_a_traceback(tmp_path_factory, doc, command):
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("fuzz")
    p = folder / "s.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([command, str(p)])
    assert code in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue(), err.getvalue()
    if code == 2:
        assert err.getvalue().count("\n") == 1

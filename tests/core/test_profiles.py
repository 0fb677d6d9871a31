"""Profile files: the shipped ones load, a user's file overrides by id, and every malformed file is
refused with a ProfileError naming the file and the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidInputError, ProfileError, UnknownProfileError
from core.paths import exchanges_dir
from core.profiles import FeeModel, MMBasis, PartialLiquidation, load_profile, load_profiles

DATA = Path(__file__).resolve().parent.parent / "data" / "profiles"


def test_shipped_profiles_load_with_source_and_date():
    ps = load_profiles([exchanges_dir()])
    assert ps.errors == ()
    assert set(ps.ids) == {"binance", "binance-coinm", "bitmex", "bybit", "bybit-inverse", "classic", "hyperliquid"}
    for p in ps:
        assert p.as_of[:2] == "20" and p.source
        assert Path(p.path).name in (f"{p.id}.toml", f"{p.id}.json")


def test_shipped_rules_match_domain():
    # docs/domain.md §1 table of knobs.
    ps = load_profiles([exchanges_dir()])
    assert ps.get("classic").rules.mm_basis is MMBasis.ENTRY
    assert ps.get("binance").rules.mm_basis is MMBasis.MARK
    assert ps.get("binance").rules.partial_liquidation is PartialLiquidation.TIER_STEP_DOWN
    assert ps.get("bybit").rules.fee_model is FeeModel.CLOSE_FEE
    hl = ps.get("hyperliquid").rules
    assert hl.mmr_from_max_leverage and hl.partial_liquidation is PartialLiquidation.FRACTION
    assert hl.partial_fraction == 0.2 and hl.cooldown_s == 30 and hl.backstop_mm_fraction == pytest.approx(2 / 3)


def test_user_directory_overrides_by_id():
    ps = load_profiles([exchanges_dir(), DATA / "good"])
    assert ps.get("binance").as_of == "2099-01-01"
    assert ps.get("binance").contract("BTCUSDT").tiers.mmr.tolist() == [0.01]
    assert ps.get("okx_like").rules.fee_model is FeeModel.TAKER_IN_MMR
    # defaults for every key left out (docs/profiles.md)
    okx = ps.get("okx_like")
    assert okx.name == "okx_like" and okx.contract("BTCUSDT").quote == "USDT"
    assert okx.rules.tier_at_liquidation is True and okx.rules.liquidation_fee == 0.0
    # taker_in_mmr: the effective rates are raised by the taker fee
    assert okx.effective_tiers("BTCUSDT").mmr.tolist() == pytest.approx([0.0045, 0.0085])


def test_missing_directory_is_skipped(tmp_path):
    ps = load_profiles([tmp_path / "nope", exchanges_dir()])
    assert "binance" in ps.ids


@pytest.mark.parametrize(
    ("name", "key", "words"),
    [
        ("syntax.toml", "(syntax)", ""),
        ("missing_as_of.toml", "as_of", "non-empty string"),
        ("missing_mmr.toml", "contracts.BTCUSDT.tiers[0].mmr", "missing"),
        ("gap.toml", "contracts.BTCUSDT.tiers[1].floor", "contiguous"),
        ("unknown_rule.toml", "rules.maintenance_basis", "unknown key"),
        ("misspelt_table.toml", "rule", "unknown key"),
        ("bad_enum.toml", "rules.mm_basis", "'entry', 'mark'"),
        ("wrong_version.toml", "schema_version", "expected 1"),
        ("unknown_tier_key.toml", "contracts.BTCUSDT.tiers[0].imr", "unknown key"),
        ("rate_out_of_range.toml", "contracts.BTCUSDT.tiers[0].mmr", "must be in (0, 1]"),
        ("jumping_cum.toml", "contracts.BTCUSDT.tiers[1].maintenance_amount", "continuity recursion gives 50"),
        ("no_contracts.toml", "contracts", "at least one"),
    ],
)
def test_malformed_profile_refused(name, key, words):
    path = DATA / "bad" / name
    with pytest.raises(ProfileError) as ei:
        load_profile(path)
    err = ei.value
    assert err.path == str(path) and name in str(err)
    assert err.key == key
    assert words in err.problem


def test_bad_files_reported_not_fatal():
    ps = load_profiles([exchanges_dir(), DATA / "bad"])
    assert set(ps.ids) == {"binance", "binance-coinm", "bitmex", "bybit", "bybit-inverse", "classic", "hyperliquid"}
    assert sorted(Path(e.path).name for e in ps.errors) == sorted(p.name for p in (DATA / "bad").glob("*.toml"))


def test_unreadable_file(tmp_path):
    with pytest.raises(ProfileError) as ei:
        load_profile(tmp_path / "absent.toml")
    assert ei.value.key == "(file)"


def test_unknown_profile_and_symbol():
    ps = load_profiles([exchanges_dir()])
    with pytest.raises(UnknownProfileError) as ei:
        ps.get("kraken")
    assert ei.value.field == "exchange" and "binance" in str(ei.value)
    with pytest.raises(UnknownProfileError) as ei:
        ps.get("binance").contract("SOLANAUSDT")
    assert ei.value.field == "symbol" and "344 contracts; closest: SOLUSDT" in str(ei.value)
    assert isinstance(ei.value, InvalidInputError)

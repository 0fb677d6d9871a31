"""Contract names across exchanges (core.symbols)."""
from __future__ import annotations

import pytest

from core.errors import UnknownProfileError
from core.paths import exchanges_dir
from core.profiles import Contract, Profile, Rules, load_profiles
from core.symbols import base_asset, contracts_by_asset, resolve_symbol, split_symbol
from core.tiers import TierTable


@pytest.fixture(scope="module")
def profiles():
    return load_profiles([exchanges_dir()])


@pytest.mark.parametrize(("name", "expected"), [
    # Spellings as the exchanges print them on their contract pages.
    ("BTCUSDT", ("BTC", "USDT")),  # Binance, Bybit
    ("BTC", ("BTC", "")),  # Hyperliquid
    ("btcusdt", ("BTC", "USDT")),  # typed in lower case
    ("ETHUSDC", ("ETH", "USDC")),  # USDC wins over USD: the longest quote first
    ("XBTUSD", ("BTC", "USD")),  # BitMEX
    ("BTC-PERP", ("BTC", "")),  # FTX-style
    ("ETH-USDT-SWAP", ("ETH", "USDT")),  # OKX
    ("BTC/USDT:USDT", ("BTC", "USDT")),  # ccxt
    ("SOLUSDT.P", ("SOL", "USDT")),  # TradingView
    ("1000PEPEUSDT", ("1000PEPE", "USDT")),  # Binance's thousand-unit contract
    ("kPEPE", ("1000PEPE", "")),  # Hyperliquid's name for the same thousand units
    ("KAVAUSDT", ("KAVA", "USDT")),  # a real K... asset is not a thousand of AVA
    ("USDT", ("USDT", "")),  # nothing left after the quote: the name is the asset
])
def test_split_symbol(name, expected):
    assert split_symbol(name) == expected


def test_resolve_symbol_across_the_shipped_profiles(profiles):
    assert resolve_symbol(profiles.get("hyperliquid"), "BTCUSDT") == "BTC"
    assert resolve_symbol(profiles.get("hyperliquid"), "sol") == "SOL"
    assert resolve_symbol(profiles.get("binance"), "BTC") == "BTCUSDT"
    assert resolve_symbol(profiles.get("binance"), "eth-perp") == "ETHUSDT"
    assert resolve_symbol(profiles.get("bybit"), "XBTUSD") == "BTCUSDT"
    assert resolve_symbol(profiles.get("classic"), "BTCUSDT") == "BTCUSDT"


def test_missing_asset_names_the_profile_and_lists_its_contracts(profiles):
    with pytest.raises(UnknownProfileError) as exc:
        resolve_symbol(profiles.get("binance"), "SOLANA")
    assert exc.value.field == "symbol"
    assert "binance has no SOLANA contract" in exc.value.reason
    assert "closest: SOLUSDT, SOLUSDC" in exc.value.reason  # difflib on the 344 names and their assets
    with pytest.raises(UnknownProfileError) as exc:
        resolve_symbol(profiles.get("classic"), "ETH")
    assert "it lists BTCUSDT" in exc.value.reason  # a short list is shown whole


def _profile_with(*symbols_quotes: tuple[str, str]) -> Profile:
    tiers = TierTable.single(mmr=0.01, max_leverage=50)
    contracts = {s: Contract(symbol=s, tiers=tiers, quote=q) for s, q in symbols_quotes}
    return Profile(id="t", name="t", as_of="2025-01-01", source="test", rules=Rules(), contracts=contracts)


def test_quote_preference_when_one_asset_has_several_contracts():
    p = _profile_with(("BTCUSDC", "USDC"), ("BTCUSDT", "USDT"), ("BTCUSD", "USD"))
    assert resolve_symbol(p, "BTC") == "BTCUSDT"  # no quote asked: USDT first
    assert resolve_symbol(p, "BTC-USDC") == "BTCUSDC"  # the asked quote wins
    assert resolve_symbol(p, "BTC/USD") == "BTCUSD"
    assert resolve_symbol(p, "BTCFDUSD") == "BTCUSDT"  # asked quote missing: the preference order


def test_contracts_by_asset(profiles):
    table = contracts_by_asset(tuple(profiles))
    assert table["BTC"] == {"binance": "BTCUSDT", "bybit": "BTCUSDT", "classic": "BTCUSDT",
                            "hyperliquid": "BTC", "binance-coinm": "BTCUSD_PERP", "bybit-inverse": "BTCUSD",
                            "bitmex": "XBTUSD"}
    assert table["ETH"] == {"binance": "ETHUSDT", "hyperliquid": "ETH", "binance-coinm": "ETHUSD_PERP",
                            "bybit-inverse": "ETHUSD"}
    assert base_asset("XRP") == "XRP" and "XRP" in table

"""Exchange rule profiles: the knobs of docs/domain.md §1 plus dated contract specs and tier tables.

A profile is one TOML file (``resources/exchanges/<id>.toml`` or a user's own in their config
directory). The file format is documented in ``docs/profiles.md``; every problem is reported as a
:class:`~core.errors.ProfileError` naming the file, the key and what is wrong.
"""
from __future__ import annotations

import collections
import datetime as dt
import difflib
import math
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.contracts import ContractType
from core.errors import FileFormatError, InvalidInputError, ProfileError, UnknownProfileError
from core.persistence import read_json_file, read_text_file
from core.tiers import TierTable
from core.validate import number

PROFILE_SCHEMA_VERSION: Final = 1


class MMBasis(StrEnum):
    """Which price the maintenance margin is measured at (docs/domain.md §1)."""

    ENTRY = "entry"  # MM = MMR * q * EP - cum, fixed while the position is unchanged
    MARK = "mark"  # MM = MMR * q * P - cum, moves with the price


class FeeModel(StrEnum):
    NONE = "none"
    TAKER_IN_MMR = "taker_in_mmr"  # MMR raised by the taker fee rate (OKX, Gate, Phemex)
    CLOSE_FEE = "close_fee"  # IM and MM include the fee to close at the bankruptcy price (Bybit UTA)


class FundingBooking(StrEnum):
    """Where an isolated position's funding payment is booked (docs/domain.md §9.2).

    A cross position's funding always moves the shared wallet, whatever this says.
    """

    ISOLATED_MARGIN = "isolated_margin"  # into/out of the position's own margin: its LP moves (Binance, BitMEX)
    AVAILABLE_FIRST = "available_first"  # from the available balance first, the margin only when it runs out (Bybit)


class PartialLiquidation(StrEnum):
    NONE = "none"  # the whole position is liquidated at once
    TIER_STEP_DOWN = "tier_step_down"  # reduce to a lower tier's size until compliant (Binance, Bybit)
    FRACTION = "fraction"  # a fixed fraction at a time with a cooldown (Hyperliquid)


@dataclass(frozen=True, slots=True)
class Rules:
    """How an exchange turns a position into margins and a liquidation price."""

    mm_basis: MMBasis = MMBasis.MARK
    fee_model: FeeModel = FeeModel.NONE
    tier_at_liquidation: bool = True
    mmr_from_max_leverage: bool = False
    taker_fee: float = 0.0
    maker_fee: float = 0.0  # fee rate of an order that rests in the book (docs/domain.md §9.4)
    liquidation_fee: float = 0.0
    funding_interval_h: float = 8.0  # hours between funding payments (docs/domain.md §9.1)
    funding_booking: FundingBooking = FundingBooking.ISOLATED_MARGIN
    partial_liquidation: PartialLiquidation = PartialLiquidation.NONE
    partial_fraction: float = 0.2
    partial_min_notional: float = 0.0
    cooldown_s: float = 0.0
    backstop_mm_fraction: float | None = None  # backstop when equity < this * MM (Hyperliquid 2/3)


def round_to_lot(qty: Any, lot: float, *, up: bool = False) -> Any:
    """Quantity in whole lots: rounded down (an order may not exceed what is asked), or up.

    ``floor(qty / lot) * lot`` (``ceil`` with ``up``), with a tolerance of 1e-9 lot so that a quantity
    already on the grid, such as 0.3 / 0.1 = 2.9999999999999996 lots, stays where it is. Broadcasts.
    The lot is the contract's ``lot_size`` (Binance's LOT_SIZE ``stepSize``, Bybit's ``qtyStep``,
    Hyperliquid's ``szDecimals``; docs/domain.md §10).

    Examples
    --------
    >>> round_to_lot(0.4999, 0.001), round_to_lot(0.3, 0.1), round_to_lot(0.30001, 0.1, up=True)
    (0.499, 0.3, 0.4)
    """
    steps = np.asarray(qty, dtype=float) / lot
    whole = np.ceil(steps - 1e-9) if up else np.floor(steps + 1e-9)
    per_unit = round(1.0 / lot)
    # dividing by the lots per unit keeps decimal lots exact (3 / 10 == 0.3, 3 * 0.1 != 0.3)
    out = whole / per_unit if per_unit >= 1 and abs(per_unit * lot - 1.0) < 1e-12 else whole * lot
    return float(out) if out.ndim == 0 else out


#: Largest contract size accepted (base units or quote value per contract).
MAX_CONTRACT_SIZE: Final = 1e9


@dataclass(frozen=True, slots=True)
class Contract:
    """A perpetual contract: its quote currency, price tick, size lot and tier table, and how it settles.

    ``type`` is linear (settled in the quote currency, sizes in base units) or inverse (settled in
    the coin, sizes in contracts worth ``size`` of the quote currency each; core.contracts).
    ``size``: linear, base units per contract (informational: linear quantities stay in base
    units); inverse, the quote value of one contract (Binance BTCUSD_PERP 100 USD). ``settle`` is
    the asset margins, PnL and the wallet are in: the quote currency for a linear contract (the
    default), the coin for an inverse one (required). Tiers are by notional in ``settle``.
    """

    symbol: str
    tiers: TierTable
    quote: str = "USDT"
    tick_size: float = 0.01
    lot_size: float = 0.001
    liquidation_fee: float | None = None  # overrides rules.liquidation_fee for this contract
    type: ContractType = ContractType.LINEAR
    size: float = 1.0
    settle: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.type, ContractType):
            try:
                object.__setattr__(self, "type", ContractType(self.type))
            except ValueError:
                raise InvalidInputError("type", f"expected 'linear' or 'inverse', got {self.type!r}") from None
        object.__setattr__(self, "size", number("contract-size", self.size, lo=0, lo_open=True,
                                                hi=MAX_CONTRACT_SIZE))
        if not self.settle:
            if self.type is ContractType.INVERSE:
                raise InvalidInputError("settle", f"{self.symbol} is inverse: give the coin it settles in "
                                                  "(e.g. \"BTC\")")
            object.__setattr__(self, "settle", self.quote)

    @property
    def is_inverse(self) -> bool:
        return self.type is ContractType.INVERSE

    @property
    def max_leverage(self) -> float:
        return float(self.tiers.max_leverage[0])

    def round_qty(self, qty: Any, *, up: bool = False) -> Any:
        """``qty`` in this contract's whole lots (:func:`round_to_lot`)."""
        return round_to_lot(qty, self.lot_size, up=up)

    def round_price_toward_mark(self, price: Any, side: int) -> Any:
        """A liquidation or bankruptcy price on the tick, rounded towards the mark: a long's up, a
        short's down (the conservative side: the trigger comes no later than the exact price).

        Rounding is done on the price itself, after an inverse contract's frame price is mapped back
        (docs/domain.md §7): an inverse long is a short in its frame, yet its price is rounded as a
        long's. Bybit rounds long bankruptcy prices up and short ones down to 0.5; its classic cross
        example's 5,739.08 is published as 5,739.5.

        >>> from core.contracts import ContractType
        >>> c = Contract("BTCUSD", TierTable.single(mmr=0.005, max_leverage=100), quote="USD", tick_size=0.5,
        ...              type=ContractType.INVERSE, settle="BTC")
        >>> c.round_price_toward_mark(5_739.08, 1), c.round_price_toward_mark(8_163.27, -1)
        (5739.5, 8163.0)
        """
        return round_to_lot(price, self.tick_size, up=side > 0)


@dataclass(frozen=True, slots=True)
class Profile:
    """An exchange's rules with its contracts, dated and sourced."""

    id: str
    name: str
    as_of: str
    source: str
    rules: Rules
    contracts: Mapping[str, Contract]
    notes: str = ""
    path: str = ""
    _symbols: tuple[str, ...] = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_symbols", tuple(self.contracts))

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def contract(self, symbol: str) -> Contract:
        try:
            return self.contracts[symbol]
        except KeyError:
            if len(self.symbols) <= 8:
                hint = f"choose one of {', '.join(self.symbols)}"
            else:
                close = difflib.get_close_matches(str(symbol).upper(), self.symbols, n=5, cutoff=0.6)
                hint = f"{len(self.symbols)} contracts" + (f"; closest: {', '.join(close)}" if close else "")
            raise UnknownProfileError("symbol", f"{symbol!r} is not in profile {self.id!r}; {hint}") from None

    def liquidation_fee(self, symbol: str) -> float:
        fee = self.contract(symbol).liquidation_fee
        return self.rules.liquidation_fee if fee is None else fee

    def with_contract(self, contract: Contract) -> Profile:
        """This profile with ``contract`` added or replacing its namesake; no other contract is parsed."""
        return replace(self, contracts=collections.ChainMap({contract.symbol: contract}, self.contracts))  # type: ignore[arg-type]

    def effective_tiers(self, symbol: str) -> TierTable:
        """The tier table the formulas use: rates raised by the taker fee under ``taker_in_mmr``."""
        tiers = self.contract(symbol).tiers
        if self.rules.fee_model is FeeModel.TAKER_IN_MMR:
            return tiers.with_mmr_offset(self.rules.taker_fee)
        return tiers


# ---------------------------------------------------------------------------------------------
# Parsing


def _enum(path: str, key: str, value: Any, enum: type[Enum]) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise ProfileError(path, key, f"{value!r} is not one of {allowed}") from None


def _number(path: str, key: str, value: Any, *, lo: float, hi: float = math.inf,
            lo_open: bool = False) -> float:
    try:
        return number(key, value, lo=lo, hi=None if math.isinf(hi) else hi, lo_open=lo_open)
    except InvalidInputError as exc:
        raise ProfileError(path, key, exc.reason) from None


def _bool(path: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ProfileError(path, key, f"expected true or false, got {value!r}")
    return value


def _str(path: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(path, key, f"expected a non-empty string, got {value!r}")
    return value


_RULE_KEYS: Final = {
    "mm_basis", "fee_model", "tier_at_liquidation", "mmr_from_max_leverage", "taker_fee", "maker_fee",
    "liquidation_fee", "funding_interval_h", "funding_booking", "partial_liquidation", "partial_fraction",
    "partial_min_notional", "cooldown_s", "backstop_mm_fraction",
}
#: Longest funding interval a profile may state (Binance's 8 h is the longest in use; a day allows
#: for odd venues, and keeps the simulator's funding schedule a sane length).
MAX_FUNDING_INTERVAL_H: Final = 24.0
_TOP_KEYS: Final = {"schema_version", "id", "name", "as_of", "source", "notes", "rules", "contracts"}
#: Bounds that no real contract comes near: a tick of 1e300 would print every price as 0.
MAX_TICK_SIZE: Final = 10_000.0
MAX_LOT_SIZE: Final = 1e9
_TIER_KEYS: Final = {"floor", "cap", "max_leverage", "mmr", "maintenance_amount"}
_CONTRACT_KEYS: Final = {"quote", "tick_size", "lot_size", "liquidation_fee", "tiers", "type", "size", "settle"}


def _parse_rules(path: str, raw: Any) -> Rules:
    if not isinstance(raw, dict):
        raise ProfileError(path, "rules", "expected a table [rules]")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise ProfileError(path, f"rules.{sorted(unknown)[0]}", f"unknown key; known keys: {', '.join(sorted(_RULE_KEYS))}")
    kw: dict[str, Any] = {}
    if "mm_basis" in raw:
        kw["mm_basis"] = _enum(path, "rules.mm_basis", raw["mm_basis"], MMBasis)
    if "fee_model" in raw:
        kw["fee_model"] = _enum(path, "rules.fee_model", raw["fee_model"], FeeModel)
    if "funding_booking" in raw:
        kw["funding_booking"] = _enum(path, "rules.funding_booking", raw["funding_booking"], FundingBooking)
    if "partial_liquidation" in raw:
        kw["partial_liquidation"] = _enum(path, "rules.partial_liquidation", raw["partial_liquidation"],
                                          PartialLiquidation)
    for key in ("tier_at_liquidation", "mmr_from_max_leverage"):
        if key in raw:
            kw[key] = _bool(path, f"rules.{key}", raw[key])
    for key, lo, hi, lo_open in (
        ("taker_fee", 0.0, 0.1, False),
        ("maker_fee", -0.01, 0.1, False),  # a negative maker fee is a rebate (BitMEX -0.025 %)
        ("liquidation_fee", 0.0, 0.1, False),
        ("funding_interval_h", 0.0, MAX_FUNDING_INTERVAL_H, True),
        ("partial_fraction", 0.0, 1.0, True),
        ("partial_min_notional", 0.0, math.inf, False),
        ("cooldown_s", 0.0, 86_400.0, False),
        ("backstop_mm_fraction", 0.0, 1.0, True),
    ):
        if key in raw:
            kw[key] = _number(path, f"rules.{key}", raw[key], lo=lo, hi=hi, lo_open=lo_open)
    return Rules(**kw)


def _parse_tiers(path: str, symbol: str, raw: Any, rules: Rules) -> TierTable:
    base = f"contracts.{symbol}.tiers"
    if not isinstance(raw, list) or not raw:
        raise ProfileError(path, base, "expected a non-empty list of [[contracts.SYMBOL.tiers]] tables")
    floors, caps, levs, mmrs, cums = [], [], [], [], []
    any_cum = any(isinstance(t, dict) and "maintenance_amount" in t for t in raw)
    for i, t in enumerate(raw):
        key = f"{base}[{i}]"
        if not isinstance(t, dict):
            raise ProfileError(path, key, "expected a table")
        unknown = set(t) - _TIER_KEYS
        if unknown:
            raise ProfileError(path, f"{key}.{sorted(unknown)[0]}", f"unknown key; known keys: {', '.join(sorted(_TIER_KEYS))}")
        for need in ("floor", "cap", "max_leverage"):
            if need not in t:
                raise ProfileError(path, f"{key}.{need}", "missing")
        floors.append(_number(path, f"{key}.floor", t["floor"], lo=0))
        cap = t["cap"]
        if cap == math.inf or cap == "inf":
            caps.append(math.inf)  # the last tier may be open-ended: `cap = inf`
        else:
            caps.append(_number(path, f"{key}.cap", cap, lo=0, lo_open=True))
        lev = _number(path, f"{key}.max_leverage", t["max_leverage"], lo=1, hi=1000)
        levs.append(lev)
        if rules.mmr_from_max_leverage:
            if "mmr" in t:
                raise ProfileError(path, f"{key}.mmr", "this profile derives MMR as 1/(2*max_leverage); leave mmr out")
            mmrs.append(1.0 / (2.0 * lev))
        else:
            if "mmr" not in t:
                raise ProfileError(path, f"{key}.mmr", "missing (or set rules.mmr_from_max_leverage = true)")
            mmrs.append(_number(path, f"{key}.mmr", t["mmr"], lo=0, hi=1, lo_open=True))
        if any_cum:
            if "maintenance_amount" not in t:
                raise ProfileError(path, f"{key}.maintenance_amount", "give it for every tier or for none (then it is derived)")
            cums.append(_number(path, f"{key}.maintenance_amount", t["maintenance_amount"], lo=0))
            if i == 0 and cums[0] != 0:
                raise ProfileError(path, f"{key}.maintenance_amount",
                                   f"must be 0 in the first tier (MM = MMR x notional - amount would be negative "
                                   f"for small positions), got {cums[0]:g}")
    try:
        return TierTable.from_rows(floor=floors, cap=caps, max_leverage=levs, mmr=mmrs,
                                   cum=cums if any_cum else None)
    except InvalidInputError as exc:
        raise ProfileError(path, f"contracts.{symbol}.{exc.field}", exc.reason) from None


def parse_contract(path: str, symbol: str, c: Mapping[str, Any], rules: Rules) -> Contract:
    """One ``[contracts.SYMBOL]`` table as a :class:`Contract`; its tiers must form a ladder
    (:meth:`core.tiers.TierTable.check_ladder`). Problems are :class:`ProfileError` naming the key."""
    unknown = set(c) - _CONTRACT_KEYS
    if unknown:
        raise ProfileError(path, f"contracts.{symbol}.{sorted(unknown)[0]}",
                           f"unknown key; known keys: {', '.join(sorted(_CONTRACT_KEYS))}")
    tiers = _parse_tiers(path, symbol, c.get("tiers"), rules)
    try:
        tiers.check_ladder()
    except InvalidInputError as exc:
        raise ProfileError(path, f"contracts.{symbol}.{exc.field}", exc.reason) from None
    kind = _enum(path, f"contracts.{symbol}.type", c.get("type", "linear"), ContractType)
    settle = c.get("settle")
    if settle is None and kind is ContractType.INVERSE:
        raise ProfileError(path, f"contracts.{symbol}.settle",
                           "missing: an inverse contract settles in its coin; give it (e.g. settle = \"BTC\")")
    return Contract(
        symbol=symbol,
        type=kind,
        size=_number(path, f"contracts.{symbol}.size", c.get("size", 1.0), lo=0, lo_open=True, hi=MAX_CONTRACT_SIZE),
        settle="" if settle is None else _str(path, f"contracts.{symbol}.settle", settle),
        tiers=tiers,
        quote=_str(path, f"contracts.{symbol}.quote", c.get("quote", "USDT")),
        tick_size=_number(path, f"contracts.{symbol}.tick_size", c.get("tick_size", 0.01), lo=0, lo_open=True,
                          hi=MAX_TICK_SIZE),
        lot_size=_number(path, f"contracts.{symbol}.lot_size", c.get("lot_size", 0.001), lo=0, lo_open=True,
                         hi=MAX_LOT_SIZE),
        liquidation_fee=(None if "liquidation_fee" not in c else
                         _number(path, f"contracts.{symbol}.liquidation_fee", c["liquidation_fee"], lo=0, hi=0.1)),
    )


class LazyContracts(Mapping[str, Contract]):
    """A profile's contracts, each parsed and checked the first time it is asked for.

    A profile of hundreds of symbols (every Binance perpetual) then costs one JSON decode at
    start-up, not hundreds of tier tables; a damaged contract is reported when it is used, as a
    :class:`ProfileError` naming the file and the key, like any other profile error.
    """

    __slots__ = ("_parsed", "_path", "_raw", "_rules")

    def __init__(self, raw: Mapping[str, Mapping[str, Any]], *, path: str, rules: Rules) -> None:
        self._raw = raw
        self._parsed: dict[str, Contract] = {}
        self._path = path
        self._rules = rules

    def __getitem__(self, symbol: str) -> Contract:
        contract = self._parsed.get(symbol)
        if contract is None:
            contract = parse_contract(self._path, symbol, self._raw[symbol], self._rules)
            self._parsed[symbol] = contract
        return contract

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def listed_max_leverage(profile: Profile, symbol: str) -> float | None:
    """The highest leverage ``symbol`` allows (its first tier's), for lists of hundreds of contracts.

    A contract not yet parsed is not parsed for this: its file's first ``max_leverage`` is read as
    written (None where that is not a number), so that a symbol list shows every entry's leverage
    without checking every table. The quote itself always uses the checked table.
    """
    contracts = profile.contracts
    if isinstance(contracts, LazyContracts) and symbol not in contracts._parsed:
        tiers = contracts._raw.get(symbol, {}).get("tiers")
        first = tiers[0] if isinstance(tiers, list) and tiers and isinstance(tiers[0], dict) else {}
        lev = first.get("max_leverage")
        return float(lev) if isinstance(lev, int | float) and not isinstance(lev, bool) else None
    return profile.contract(symbol).max_leverage


def parse_profile(data: Mapping[str, Any], *, path: str = "<profile>", default_id: str = "",
                  lazy: bool = False) -> Profile:
    """Validate a decoded profile mapping (TOML or JSON) and build a :class:`Profile`.

    ``lazy``: check the header and rules now and each contract when it is first used
    (:class:`LazyContracts`); otherwise every contract is checked now.
    """
    version = data.get("schema_version")
    if isinstance(version, bool) or version != PROFILE_SCHEMA_VERSION:
        raise ProfileError(path, "schema_version", f"expected {PROFILE_SCHEMA_VERSION}, got {version!r}")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        # a misspelt [rules] table would otherwise be ignored and the defaults used in silence
        raise ProfileError(path, sorted(unknown)[0], f"unknown key; known keys: {', '.join(sorted(_TOP_KEYS))}")
    pid = _str(path, "id", data.get("id", default_id))
    name = _str(path, "name", data.get("name", pid))
    as_of = _str(path, "as_of", data.get("as_of"))
    source = _str(path, "source", data.get("source"))
    rules = _parse_rules(path, data.get("rules", {}))
    raw_contracts = data.get("contracts")
    if not isinstance(raw_contracts, dict) or not raw_contracts:
        raise ProfileError(path, "contracts", "expected at least one [contracts.SYMBOL] table")
    for symbol, c in raw_contracts.items():
        if not isinstance(c, dict):
            raise ProfileError(path, f"contracts.{symbol}", "expected a table")
    contracts: Mapping[str, Contract]
    if lazy:
        contracts = LazyContracts(raw_contracts, path=path, rules=rules)
    else:
        contracts = {symbol: parse_contract(path, symbol, c, rules) for symbol, c in raw_contracts.items()}
    notes = data.get("notes", "")
    if not isinstance(notes, str):
        raise ProfileError(path, "notes", f"expected a string, got {notes!r}")
    return Profile(id=pid, name=name, as_of=as_of, source=source, rules=rules, contracts=contracts,
                   notes=notes, path=path)


#: Largest profile file read (every Binance USDⓈ-M table together is a few MB of TOML).
MAX_PROFILE_BYTES: Final = 32 * 1024 * 1024


def load_profile(path: Path) -> Profile:
    """Read one profile file, TOML or JSON; anything wrong with it raises :class:`ProfileError` naming the file.

    A ``.json`` profile (what ``marginlab-cli profiles import`` writes, and the large shipped tables)
    has the same keys as the TOML format; its contracts are checked when first used
    (:class:`LazyContracts`), a TOML file's all at once.

    Not a regular file, too large, not UTF-8, not TOML, nested too deeply for the parser, a value
    out of range: each is one ``ProfileError``, never another exception (a user's damaged file in
    ``exchanges/`` must not stop the app or the CLI from starting).
    """
    is_json = path.suffix.lower() == ".json"
    try:
        if is_json:
            data = read_json_file(path, max_bytes=MAX_PROFILE_BYTES, what="profile")
            if not isinstance(data, dict):
                raise ProfileError(str(path), "(content)", "expected a JSON object with the keys of docs/profiles.md")
        else:
            data = tomllib.loads(read_text_file(path, max_bytes=MAX_PROFILE_BYTES, what="profile"))
    except FileFormatError as exc:
        raise ProfileError(str(path), "(file)", exc.problem) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(str(path), "(syntax)", str(exc)) from None
    except RecursionError:
        raise ProfileError(str(path), "(syntax)", "nested too deeply to be read (a damaged or hostile file)") from None
    try:
        return parse_profile(data, path=str(path), default_id=path.stem, lazy=is_json)
    except RecursionError:
        raise ProfileError(str(path), "(content)", "nested too deeply to be read") from None


@dataclass(frozen=True, slots=True)
class ProfileSet:
    """Every profile found, by id, plus the files that were refused (and why).

    ``notices`` says which shipped profiles a user's file replaced (the intended way to bring a
    table up to date), so that a user sees which numbers are theirs.
    """

    profiles: Mapping[str, Profile]
    errors: tuple[ProfileError, ...] = ()
    notices: tuple[str, ...] = ()

    def get(self, profile_id: str) -> Profile:
        try:
            return self.profiles[profile_id]
        except KeyError:
            raise UnknownProfileError(
                "exchange", f"{profile_id!r} is not a known profile; choose one of {', '.join(sorted(self.profiles))}"
            ) from None

    def __iter__(self) -> Any:
        return iter(self.profiles.values())

    def __len__(self) -> int:
        return len(self.profiles)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.profiles)


def load_profiles(directories: Iterable[Path]) -> ProfileSet:
    """Load every ``*.toml`` and ``*.json`` profile from the directories, in order.

    A later directory's profile with the same id replaces an earlier one (a user's newer table
    overrides the shipped one; ``notices`` says so). Two files with the same id in one directory
    are ambiguous: the first in name order is used and the second is refused in ``errors``. A file
    that cannot be used is left out and reported in ``errors``; nothing here raises.
    """
    profiles: dict[str, Profile] = {}
    errors: list[ProfileError] = []
    notices: list[str] = []
    for d in directories:
        d = Path(d)
        try:
            if not d.is_dir():
                continue
            files = sorted([*d.glob("*.toml"), *d.glob("*.json")])
        except OSError as exc:
            errors.append(ProfileError(str(d), "(folder)", exc.strerror or str(exc)))
            continue
        here: dict[str, str] = {}
        for p in files:
            try:
                prof = load_profile(p)
            except ProfileError as exc:
                errors.append(exc)
                continue
            if prof.id in here:
                errors.append(ProfileError(str(p), "id", f"{prof.id!r} is also the id of {here[prof.id]}, "
                                                         "which is used; give this profile another id"))
                continue
            here[prof.id] = p.name
            if prof.id in profiles:
                notices.append(f"{p} replaces the profile {prof.id!r} of {profiles[prof.id].path}")
            profiles[prof.id] = prof
    return ProfileSet(profiles=profiles, errors=tuple(errors), notices=tuple(notices))


def custom_tiers(*, mmr: float, max_leverage: float = 125.0, maintenance_amount: float = 0.0) -> TierTable:
    """One-tier table for a custom contract (``--mmr`` on the CLI)."""
    mmr = number("mmr", mmr, lo=0, hi=1, lo_open=True, hi_open=True)
    max_leverage = number("max-leverage", max_leverage, lo=1, hi=1000)
    maintenance_amount = number("maintenance-amount", maintenance_amount, lo=0)
    return TierTable.single(mmr=mmr, max_leverage=max_leverage, maintenance_amount=maintenance_amount)


# ---------------------------------------------------------------------------------------------
# Age of a table

#: A table older than this many days is flagged wherever it is used (status bar, quote, Compare).
STALE_AFTER_DAYS: Final = 180
#: Profiles whose table is a fixed teaching example, not an exchange's current one.
NOT_REFRESHED: Final = frozenset({"classic"})
#: The public response a profile's tables are refreshed from (``marginlab-cli profiles import``).
REFRESH_SOURCES: Final = {
    "binance": "GET /fapi/v1/leverageBracket",
    "binance-coinm": "GET /dapi/v2/leverageBracket",
    "bybit": "GET /v5/market/risk-limit?category=linear",
    "bybit-inverse": "GET /v5/market/risk-limit?category=inverse",
    "okx": "GET /api/v5/public/position-tiers?instType=SWAP&tdMode=isolated",
    "hyperliquid": 'POST /info {"type": "meta"}',
}


def as_of_date(profile: Profile) -> dt.date | None:
    """The profile's ``as_of`` as a date, or None where it is not written ``YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(profile.as_of.strip()[:10])
    except ValueError:
        return None


def stale_notice(profile: Profile, *, today: dt.date, max_age_days: int = STALE_AFTER_DAYS) -> str | None:
    """One sentence when the profile's tables are older than ``max_age_days`` on ``today``; else None.

    ``today`` is always passed in (the CLI and the window pass the clock's date, tests a fixed
    one), so what is printed never depends on when a test runs. The sentence names the command
    that refreshes the table from the exchange's own public response.

    Examples
    --------
    >>> p = Profile(id="binance", name="Binance", as_of="2024-10-24", source="s", rules=Rules(), contracts={})
    >>> stale_notice(p, today=dt.date(2025, 4, 1)) is None  # 159 days
    True
    >>> print(stale_notice(p, today=dt.date(2025, 6, 1)))  # doctest: +NORMALIZE_WHITESPACE
    binance tables are from 2024-10-24, 220 days old: save the response of GET /fapi/v1/leverageBracket
    and run `marginlab-cli profiles import FILE --into binance` (docs/profiles.md)
    """
    day = as_of_date(profile)
    if day is None or profile.id in NOT_REFRESHED:
        return None
    age = (today - day).days
    if age <= max_age_days:
        return None
    source = REFRESH_SOURCES.get(profile.id)
    how = f"save the response of {source} and run" if source else "run"
    return (f"{profile.id} tables are from {day.isoformat()}, {age} days old: {how} "
            f"`marginlab-cli profiles import FILE --into {profile.id}` (docs/profiles.md)")

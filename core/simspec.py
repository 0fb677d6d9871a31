"""The ``simulation`` section of a scenario file: what to play, validated, and back to plain data.

:func:`simulation_from_dict` checks the section and names the JSON path of every problem
(``simulation.path.sigma: must be in (0, 10], got -1``); :func:`simulation_to_dict` writes it back so that
``simulation_from_dict(simulation_to_dict(s)) == s``; :func:`build_path` turns the ``path`` part into
a :class:`~core.prices.PricePath`. The format is documented in ``docs/scenario-format.md``; the
waterfall that plays it is :func:`core.simulate.simulate`.
"""
from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.book import BookModel
from core.errors import InvalidInputError
from core.model import Side
from core.prices import (
    MAX_POINTS,
    SECONDS_PER_YEAR,
    Jumps,
    PricePath,
    gap,
    gbm_path,
    linear_crash,
    mark_from_index,
    path_from_points,
    read_price_csv,
    time_grid,
    with_last_wick,
)
from core.validate import MAX_AMOUNT, MAX_PRICE, MAX_QTY, number

#: Limits of a simulation (docs/scenario-format.md). A path past them would exhaust memory or
#: overflow to infinite prices; each is refused in one line naming its field.
MAX_DURATION_S: Final = 10 * 365 * 86_400.0  # ten years of simulated time
MAX_MU: Final = 10.0  # annual drift, +-1,000 %
MAX_SIGMA: Final = 10.0  # annual volatility, 1,000 %
MAX_JUMP_RATE: Final = 1e6  # jumps per year (one every 32 s)
MAX_JUMP_SIZE: Final = 5.0  # mean and std of a jump's log size (a factor of e**5 = 148)
MAX_WINDOW_S: Final = MAX_DURATION_S
#: A funding rate per interval is refused beyond +-5 % (Hyperliquid's cap, 4 % an hour, is the
#: highest any venue documents; docs/domain.md §9.1), an interval outside one minute to a day.
MAX_FUNDING_RATE: Final = 0.05
FUNDING_INTERVAL_H: Final = (1.0 / 60.0, 24.0)


class ActionKind(StrEnum):
    ADD_MARGIN = "add_margin"
    CHANGE_LEVERAGE = "change_leverage"
    REDUCE = "reduce"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


@dataclass(frozen=True, slots=True)
class Counterparty:
    """An opposite-side trader who may be auto-deleveraged; ``margin`` is its collateral."""

    name: str
    side: Side
    qty: float
    entry: float
    margin: float

    @property
    def party(self) -> str:
        return f"adl.{self.name}"


@dataclass(frozen=True, slots=True)
class Action:
    """A scripted trader action at time ``t`` on ``account.positions[position]``.

    ``value`` is the amount (add_margin), the new leverage (change_leverage), the quantity (reduce)
    or the trigger price (stop_loss, take_profit); ``qty`` is an order's size (None: the whole).
    """

    t: float
    kind: ActionKind
    position: int
    value: float
    qty: float | None = None


@dataclass(frozen=True, slots=True)
class FundingSpec:
    """The ``simulation.funding`` section: the funding rate per interval, constant or stepped.

    ``rate`` is the rate per interval when ``times`` is empty; otherwise ``rates[k]`` applies from
    ``times[k]`` (seconds on the path's clock) until the next time, and the first rate before the
    first time. ``interval_h`` overrides the profile's ``funding_interval_h`` (a symbol that pays
    every 4 h or every hour on an 8-hour venue). docs/domain.md §9.1.
    """

    rate: float = 0.0
    times: tuple[float, ...] = ()
    rates: tuple[float, ...] = ()
    interval_h: float | None = None

    def rate_at(self, t: float) -> float:
        """The rate in force at time ``t``.

        >>> FundingSpec(times=(0.0, 86_400.0), rates=(0.0001, 0.0003)).rate_at(90_000)
        0.0003
        """
        if not self.times:
            return self.rate
        return self.rates[max(bisect.bisect_right(self.times, t) - 1, 0)]


@dataclass(frozen=True, slots=True)
class SimulationSpec:
    """The ``simulation`` section of a scenario file, validated. ``path`` stays plain data (built by
    :func:`build_path`), so that a spec round-trips through :func:`simulation_to_dict` unchanged."""

    path: Mapping[str, Any]
    symbol: str | None = None
    book: BookModel = field(default_factory=BookModel)
    insurance_fund: float = 0.0
    counterparties: tuple[Counterparty, ...] = ()
    actions: tuple[Action, ...] = ()
    funding: FundingSpec | None = None  # None: no funding is paid in the run


_PATH_KINDS: Final = ("gbm", "linear_crash", "gap", "points", "csv")
_PATH_KEYS: Final = {
    "gbm": {"s0", "mu", "sigma", "dt", "n", "seed", "jumps"},
    "linear_crash": {"s0", "s1", "t_start", "t_end", "dt", "n"},
    "gap": {"s0", "s1", "t_gap", "dt", "n"},
    "points": {"t", "mark", "last", "dt"},
    "csv": {"file"},
}
_COMMON_PATH_KEYS: Final = {"kind", "wick", "mark_window_s"}


def _need(d: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise InvalidInputError(f"{where}.{key}", "missing")
    return d[key]


def _obj(v: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise InvalidInputError(where, f"expected an object, got {type(v).__name__}")
    return v


def _no_unknown(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise InvalidInputError(f"{where}.{extra[0]}", f"unknown key; known keys: {', '.join(sorted(allowed))}")


def _series(v: Any, where: str, **bounds: Any) -> list[float]:
    if not isinstance(v, list) or not v:
        raise InvalidInputError(where, "expected a non-empty list of numbers")
    if len(v) > MAX_POINTS:
        raise InvalidInputError(where, f"{len(v):,} numbers; a path may hold at most {MAX_POINTS:,}")
    return [number(f"{where}[{i}]", x, **bounds) for i, x in enumerate(v)]


def _price(where: str, v: Any) -> float:
    return number(where, v, lo=0, lo_open=True, hi=MAX_PRICE)


def _duration(where: str, seconds: float) -> None:
    if seconds > MAX_DURATION_S:
        raise InvalidInputError(where, f"the path would last {seconds:,.0f} s; a simulation may last at most "
                                       f"{MAX_DURATION_S:,.0f} s (ten years)")


def _validate_path(raw: Any) -> dict[str, Any]:
    where = "simulation.path"
    d = _obj(raw, where)
    kind = d.get("kind")
    if kind not in _PATH_KINDS:
        raise InvalidInputError(f"{where}.kind", f"expected one of {', '.join(_PATH_KINDS)}, got {kind!r}")
    _no_unknown(d, _PATH_KEYS[kind] | _COMMON_PATH_KEYS, where)
    w = f"{where}."
    if kind == "gbm":
        _price(w + "s0", _need(d, "s0", where))
        number(w + "mu", d.get("mu", 0.0), lo=-MAX_MU, hi=MAX_MU)
        number(w + "sigma", _need(d, "sigma", where), lo=0, lo_open=True, hi=MAX_SIGMA)
        dt = number(w + "dt", _need(d, "dt", where), lo=0, lo_open=True, hi=MAX_DURATION_S)
        n = number(w + "n", _need(d, "n", where), lo=1, hi=MAX_POINTS, integer=True)
        _duration(w + "n", n * dt)
        number(w + "seed", d.get("seed", 0), lo=0, hi=2**63 - 1, integer=True)
        if "jumps" in d:
            j = _obj(d["jumps"], w + "jumps")
            _no_unknown(j, {"rate", "mean", "std"}, w + "jumps")
            number(w + "jumps.rate", _need(j, "rate", w + "jumps"), lo=0, hi=MAX_JUMP_RATE)
            number(w + "jumps.mean", _need(j, "mean", w + "jumps"), lo=-MAX_JUMP_SIZE, hi=MAX_JUMP_SIZE)
            number(w + "jumps.std", j.get("std", 0.0), lo=0, hi=MAX_JUMP_SIZE)
    elif kind in ("linear_crash", "gap"):
        _price(w + "s0", _need(d, "s0", where))
        _price(w + "s1", _need(d, "s1", where))
        dt = number(w + "dt", _need(d, "dt", where), lo=0, lo_open=True, hi=MAX_DURATION_S)
        n = number(w + "n", _need(d, "n", where), lo=1, hi=MAX_POINTS, integer=True)
        _duration(w + "n", n * dt)
        if kind == "gap":
            number(w + "t_gap", _need(d, "t_gap", where), lo=0, hi=MAX_DURATION_S)
        else:
            t0 = number(w + "t_start", _need(d, "t_start", where), lo=0, hi=MAX_DURATION_S)
            number(w + "t_end", _need(d, "t_end", where), lo=t0, lo_open=True, hi=MAX_DURATION_S)
    elif kind == "points":
        t = _series(_need(d, "t", where), w + "t", lo=-MAX_DURATION_S, hi=MAX_DURATION_S)
        m = _series(_need(d, "mark", where), w + "mark", lo=0, lo_open=True, hi=MAX_PRICE)
        if len(m) != len(t):
            raise InvalidInputError(w + "mark", f"expected {len(t)} numbers (one per time), got {len(m)}")
        if "last" in d:
            la = _series(d["last"], w + "last", lo=0, lo_open=True, hi=MAX_PRICE)
            if len(la) != len(t):
                raise InvalidInputError(w + "last", f"expected {len(t)} numbers (one per time), got {len(la)}")
        for k in range(1, len(t)):
            if not t[k] > t[k - 1]:
                raise InvalidInputError(f"{w}t[{k}]", f"times must increase, got {t[k]:g} after {t[k - 1]:g}")
        _duration(w + "t", t[-1] - t[0])
        if "dt" in d:
            dt = number(w + "dt", d["dt"], lo=0, lo_open=True, hi=MAX_DURATION_S)
            steps = (t[-1] - t[0]) / dt
            if steps > MAX_POINTS:
                raise InvalidInputError(w + "dt", f"{dt:g} s over {t[-1] - t[0]:g} s makes {steps:,.0f} points; "
                                                  f"a path may hold at most {MAX_POINTS:,} (allowed >= "
                                                  f"{(t[-1] - t[0]) / MAX_POINTS:g} s)")
    else:
        f = d.get("file")
        if not isinstance(f, str) or not f or len(f) > 4096 or "\0" in f:
            raise InvalidInputError(w + "file", f"expected a CSV file name, got {f!r:.60}")
    if "wick" in d:
        wk = _obj(d["wick"], w + "wick")
        _no_unknown(wk, {"t_start", "duration", "price"}, w + "wick")
        number(w + "wick.t_start", _need(wk, "t_start", w + "wick"), lo=-MAX_DURATION_S, hi=MAX_DURATION_S)
        number(w + "wick.duration", _need(wk, "duration", w + "wick"), lo=0, lo_open=True, hi=MAX_DURATION_S)
        _price(w + "wick.price", _need(wk, "price", w + "wick"))
    if "mark_window_s" in d:
        number(w + "mark_window_s", d["mark_window_s"], lo=0, lo_open=True, hi=MAX_WINDOW_S)
    return copy.deepcopy(dict(d))  # the spec owns its path: later edits of the document do not reach it


def build_path(spec: Mapping[str, Any], *, base_dir: Path | str | None = None) -> PricePath:
    """Turn a validated ``simulation.path`` mapping into a :class:`PricePath`.

    The generated series is the **index** (and the last price); a ``wick`` replaces the last price
    for a while; with ``mark_window_s`` the mark is the index plus the moving average of the basis
    (``core.prices.mark_from_index``), otherwise the mark is the index itself. GBM ``mu`` and
    ``sigma`` are annualised (365-day year); ``dt`` and every time are seconds.
    """
    d = _validate_path(spec)
    kind = d["kind"]
    if kind == "gbm":
        jumps = None
        if "jumps" in d:
            j = d["jumps"]
            jumps = Jumps(rate=j["rate"] / SECONDS_PER_YEAR, mean=j["mean"], std=j.get("std", 0.0))
        n = int(d["n"])
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            prices = gbm_path(s0=d["s0"], mu=d.get("mu", 0.0) / SECONDS_PER_YEAR,
                              sigma=d["sigma"] / math.sqrt(SECONDS_PER_YEAR), dt=d["dt"], n=n,
                              seed=int(d.get("seed", 0)), jumps=jumps)
        bad = ~np.isfinite(prices) | (prices <= 0) | (prices > MAX_PRICE)
        if bad.any():
            # the parameters are in range one by one, but together they drive the price to 0 or past
            # every bound: name what makes the path, not the path's own mark
            k = int(np.argmax(bad))
            raise InvalidInputError("simulation.path.sigma", f"with mu, sigma and jumps as given the price leaves "
                                    f"(0, {MAX_PRICE:g}] at point {k:,} of {n:,}; lower sigma, mu or the jumps")
        base = PricePath.from_mark(time_grid(n=n, dt=d["dt"]), prices)
    elif kind == "linear_crash":
        n = int(d["n"])
        base = PricePath.from_mark(time_grid(n=n, dt=d["dt"]),
                                   linear_crash(s0=d["s0"], s1=d["s1"], t_start=d["t_start"], t_end=d["t_end"],
                                                dt=d["dt"], n=n))
    elif kind == "gap":
        n = int(d["n"])
        base = PricePath.from_mark(time_grid(n=n, dt=d["dt"]),
                                   gap(s0=d["s0"], s1=d["s1"], t_gap=d["t_gap"], dt=d["dt"], n=n))
    elif kind == "points":
        base = path_from_points(d["t"], d["mark"], d.get("last"), dt=d.get("dt"))
    else:
        p = Path(d["file"])
        if not p.is_absolute() and base_dir is not None:
            p = Path(base_dir) / p
        try:
            base = read_price_csv(p, name=d["file"])
        except InvalidInputError as exc:
            raise InvalidInputError("simulation.path.file", f"{exc.field}: {exc.reason}") from None
    index = base.mark
    last = base.last
    if "wick" in d:
        wk = d["wick"]
        last = with_last_wick(base, t_start=wk["t_start"], duration=wk["duration"], price=wk["price"]).last
    if "mark_window_s" in d:
        try:
            return mark_from_index(base.t, index, last, window_s=d["mark_window_s"])
        except InvalidInputError as exc:
            raise InvalidInputError("simulation.path.mark_window_s", exc.reason) from None
    return PricePath(t=base.t, mark=index, last=last)


def funding_from_dict(raw: Any, where: str = "simulation.funding") -> FundingSpec:
    """Validate a ``funding`` section: ``{"rate": r}`` or ``{"series": {"t": [...], "rate": [...]}}``,
    optionally ``"interval_h"``; every problem names its JSON path.

    >>> funding_from_dict({"rate": 0.2})
    Traceback (most recent call last):
    ...
    core.errors.InvalidInputError: simulation.funding.rate: must be in [-0.05, 0.05], got 0.2
    """
    d = _obj(raw, where)
    _no_unknown(d, {"rate", "series", "interval_h"}, where)
    if ("rate" in d) == ("series" in d):
        raise InvalidInputError(where, "give either 'rate' (one rate per interval) or 'series' (rates from times on)")
    interval = None
    if "interval_h" in d:
        lo, hi = FUNDING_INTERVAL_H
        interval = number(f"{where}.interval_h", d["interval_h"], lo=lo, hi=hi)
    if "rate" in d:
        return FundingSpec(rate=number(f"{where}.rate", d["rate"], lo=-MAX_FUNDING_RATE, hi=MAX_FUNDING_RATE),
                           interval_h=interval)
    ser = _obj(d["series"], f"{where}.series")
    _no_unknown(ser, {"t", "rate"}, f"{where}.series")
    t = _series(_need(ser, "t", f"{where}.series"), f"{where}.series.t", lo=-MAX_DURATION_S, hi=MAX_DURATION_S)
    r = _series(_need(ser, "rate", f"{where}.series"), f"{where}.series.rate", lo=-MAX_FUNDING_RATE,
                hi=MAX_FUNDING_RATE)
    if len(r) != len(t):
        raise InvalidInputError(f"{where}.series.rate", f"expected {len(t)} numbers (one per time), got {len(r)}")
    for k in range(1, len(t)):
        if not t[k] > t[k - 1]:
            raise InvalidInputError(f"{where}.series.t[{k}]", f"times must increase, got {t[k]:g} after {t[k - 1]:g}")
    return FundingSpec(times=tuple(t), rates=tuple(r), interval_h=interval)


def funding_to_dict(spec: FundingSpec) -> dict[str, Any]:
    """The inverse of :func:`funding_from_dict`."""
    d: dict[str, Any] = ({"series": {"t": list(spec.times), "rate": list(spec.rates)}} if spec.times
                         else {"rate": spec.rate})
    if spec.interval_h is not None:
        d["interval_h"] = spec.interval_h
    return d


def simulation_from_dict(raw: Any) -> SimulationSpec:
    """Validate a scenario's ``simulation`` section; every problem names its JSON path.

    >>> simulation_from_dict({"path": {"kind": "gbm", "s0": 100, "sigma": -1, "dt": 1, "n": 10}})
    Traceback (most recent call last):
    ...
    core.errors.InvalidInputError: simulation.path.sigma: must be in (0, 10], got -1
    """
    where = "simulation"
    d = _obj(raw, where)
    _no_unknown(d, {"path", "symbol", "book", "insurance_fund", "counterparties", "actions", "funding"}, where)
    path = _validate_path(_need(d, "path", where))
    symbol = d.get("symbol")
    if symbol is not None and (not isinstance(symbol, str) or not symbol):
        raise InvalidInputError("simulation.symbol", f"expected a symbol such as 'BTCUSDT', got {symbol!r}")
    book = BookModel()
    if "book" in d:
        b = _obj(d["book"], "simulation.book")
        _no_unknown(b, {"depth", "half_spread", "max_slippage"}, "simulation.book")
        depth = b.get("depth")
        book = BookModel(
            depth=math.inf if depth is None else number("simulation.book.depth", depth, lo=0, lo_open=True),
            half_spread=number("simulation.book.half_spread", b.get("half_spread", 0.0), lo=0, hi=0.5, hi_open=True),
            max_slippage=number("simulation.book.max_slippage", b.get("max_slippage", 0.05), lo=0, lo_open=True, hi=1, hi_open=True),
        )
    fund = number("simulation.insurance_fund", d.get("insurance_fund", 0.0), lo=0, hi=MAX_AMOUNT)
    cps_raw = d.get("counterparties", [])
    if not isinstance(cps_raw, list):
        raise InvalidInputError("simulation.counterparties", "expected a list")
    cps = []
    for i, c in enumerate(cps_raw):
        w = f"simulation.counterparties[{i}]"
        c = _obj(c, w)
        _no_unknown(c, {"name", "side", "qty", "entry", "margin"}, w)
        name = c.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"{w}.name", f"expected a non-empty name, got {name!r}")
        if c.get("side") not in ("long", "short"):
            raise InvalidInputError(f"{w}.side", f"expected 'long' or 'short', got {c.get('side')!r}")
        cps.append(Counterparty(name=name, side=Side(c["side"]),
                                qty=number(f"{w}.qty", _need(c, "qty", w), lo=0, lo_open=True, hi=MAX_QTY),
                                entry=number(f"{w}.entry", _need(c, "entry", w), lo=0, lo_open=True, hi=MAX_PRICE),
                                margin=number(f"{w}.margin", _need(c, "margin", w), lo=0, lo_open=True,
                                              hi=MAX_AMOUNT)))
    if len({c.name for c in cps}) != len(cps):
        raise InvalidInputError("simulation.counterparties", "names must be unique")
    acts_raw = d.get("actions", [])
    if not isinstance(acts_raw, list):
        raise InvalidInputError("simulation.actions", "expected a list")
    acts = []
    for i, a in enumerate(acts_raw):
        w = f"simulation.actions[{i}]"
        a = _obj(a, w)
        try:
            kind = ActionKind(str(a.get("kind")))
        except ValueError:
            raise InvalidInputError(f"{w}.kind", f"expected one of {', '.join(k.value for k in ActionKind)}, "
                                                 f"got {a.get('kind')!r}") from None
        value_key = {ActionKind.ADD_MARGIN: "amount", ActionKind.CHANGE_LEVERAGE: "leverage",
                     ActionKind.REDUCE: "qty"}.get(kind, "price")
        allowed = {"t", "kind", "position", value_key} | ({"qty"} if value_key == "price" else set())
        _no_unknown(a, allowed, w)
        t = number(f"{w}.t", _need(a, "t", w), lo=0, hi=MAX_DURATION_S)
        pos = int(number(f"{w}.position", a.get("position", 0), lo=0, hi=10_000, integer=True))
        hi = {"amount": MAX_AMOUNT, "leverage": 1000.0, "qty": MAX_QTY, "price": MAX_PRICE}[value_key]
        if kind is ActionKind.CHANGE_LEVERAGE:
            value = number(f"{w}.{value_key}", _need(a, value_key, w), lo=1.0, hi=hi)
        else:
            value = number(f"{w}.{value_key}", _need(a, value_key, w), lo=0.0, lo_open=True, hi=hi)
        qty = None
        if value_key == "price" and "qty" in a:
            qty = number(f"{w}.qty", a["qty"], lo=0, lo_open=True, hi=MAX_QTY)
        acts.append(Action(t=t, kind=kind, position=pos, value=value, qty=qty))
    funding = None if d.get("funding") is None else funding_from_dict(d["funding"])
    return SimulationSpec(path=path, symbol=symbol, book=book, insurance_fund=fund,
                          counterparties=tuple(cps), actions=tuple(acts), funding=funding)


def simulation_to_dict(spec: SimulationSpec) -> dict[str, Any]:
    """The inverse of :func:`simulation_from_dict` (``simulation_from_dict(simulation_to_dict(s)) == s``)."""
    d: dict[str, Any] = {"path": dict(spec.path)}
    if spec.symbol is not None:
        d["symbol"] = spec.symbol
    b = spec.book
    d["book"] = {"depth": None if math.isinf(b.depth) else b.depth, "half_spread": b.half_spread,
                 "max_slippage": b.max_slippage}
    d["insurance_fund"] = spec.insurance_fund
    d["counterparties"] = [{"name": c.name, "side": c.side.value, "qty": c.qty, "entry": c.entry,
                            "margin": c.margin} for c in spec.counterparties]
    acts = []
    for a in spec.actions:
        key = {ActionKind.ADD_MARGIN: "amount", ActionKind.CHANGE_LEVERAGE: "leverage",
               ActionKind.REDUCE: "qty"}.get(a.kind, "price")
        item: dict[str, Any] = {"t": a.t, "kind": a.kind.value, "position": a.position, key: a.value}
        if a.qty is not None:
            item["qty"] = a.qty
        acts.append(item)
    d["actions"] = acts
    if spec.funding is not None:
        d["funding"] = funding_to_dict(spec.funding)
    return d


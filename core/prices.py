"""Price paths for the simulator: mark and last price as two series on one time axis.

Sources:

* :func:`gbm_path` / :func:`gbm_paths` -- seeded geometric Brownian motion with drift, volatility and
  optional log-normal jumps (exact discretisation, so the step size never biases the law);
* scripted shapes -- :func:`linear_crash`, :func:`gap`, and :func:`with_last_wick` (a spike in the
  last traded price that the mark does not follow);
* explicit points -- :func:`path_from_points`;
* CSV import -- :func:`read_price_csv` (``timestamp,price`` or ``timestamp,open,high,low,close``);
* :func:`mark_from_index` -- a mark built the Binance way, index plus a moving average of the basis
  ``last - index``, so that a short-lived wick in last barely moves the mark (docs/domain.md §3).

Time is in seconds throughout. :func:`gbm_path` itself is unit-agnostic: ``mu`` and ``sigma`` are per
unit of ``dt``; :data:`SECONDS_PER_YEAR` converts annualised figures.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from core.errors import FileFormatError, InvalidInputError
from core.persistence import read_text_file
from core.validate import number

FloatArray = NDArray[np.float64]

#: The most points a price path may hold (a generated one, or a CSV's rows): 50 million points are
#: 400 MB per series; a path longer than that is refused in one line rather than exhausting memory.
MAX_POINTS: Final = 50_000_000
#: The largest price CSV read.
MAX_CSV_BYTES: Final = 512 * 1024 * 1024

#: 365 days of 86,400 s: crypto trades every day, so annual volatility uses the calendar year.
SECONDS_PER_YEAR: Final = 365.0 * 86_400.0


def _readonly(a: ArrayLike) -> FloatArray:
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class PricePath:
    """Mark and last price sampled at the times ``t`` (seconds, strictly increasing).

    The arrays are read-only copies of equal length. The mark drives uPnL, margin checks and the
    liquidation trigger; the last traded price drives stop-loss and take-profit orders.
    """

    t: FloatArray
    mark: FloatArray
    last: FloatArray

    def __post_init__(self) -> None:
        t, mark, last = (np.asarray(x, dtype=np.float64) for x in (self.t, self.mark, self.last))
        for name, a in (("t", t), ("mark", mark), ("last", last)):
            if a.ndim != 1:
                raise InvalidInputError(f"path.{name}", f"expected a 1-D series, got shape {a.shape}")
            if a.size == 0:
                raise InvalidInputError(f"path.{name}", "expected at least one point")
            if not np.all(np.isfinite(a)):
                raise InvalidInputError(f"path.{name}", "every value must be a finite number")
        if not (t.size == mark.size == last.size):
            raise InvalidInputError("path", f"t, mark and last must have one length, got "
                                            f"{t.size}, {mark.size}, {last.size}")
        if t.size > 1 and not np.all(np.diff(t) > 0):
            k = int(np.argmax(np.diff(t) <= 0)) + 1
            raise InvalidInputError("path.t", f"times must increase strictly; point {k} "
                                              f"({t[k]:g}) is not after point {k - 1} ({t[k - 1]:g})")
        for name, a in (("mark", mark), ("last", last)):
            if np.any(a <= 0):
                k = int(np.argmax(a <= 0))
                raise InvalidInputError(f"path.{name}", f"prices must be > 0, point {k} is {a[k]:g}")
        object.__setattr__(self, "t", _readonly(t))
        object.__setattr__(self, "mark", _readonly(mark))
        object.__setattr__(self, "last", _readonly(last))

    def __len__(self) -> int:
        return int(self.t.size)

    @classmethod
    def from_mark(cls, t: ArrayLike, mark: ArrayLike) -> PricePath:
        """A path whose last price equals its mark (no basis)."""
        m = np.asarray(mark, dtype=np.float64)
        return cls(t=np.asarray(t, dtype=np.float64), mark=m, last=m)


@dataclass(frozen=True, slots=True)
class Jumps:
    """Merton jumps: a Poisson number of log-normal jumps per step.

    ``rate`` is the expected number of jumps per unit of time (the unit of ``dt``); each jump
    multiplies the price by ``exp(J)`` with ``J ~ Normal(mean, std)``. The jumps are not
    drift-compensated: ``mu`` is the drift of the diffusion part alone.
    """

    rate: float
    mean: float
    std: float = 0.0

    def __post_init__(self) -> None:
        number("jumps.rate", self.rate, lo=0)
        number("jumps.mean", self.mean)
        number("jumps.std", self.std, lo=0)


def _check_gbm(s0: float, sigma: float, dt: float, n: int, mu: float) -> None:
    number("s0", s0, lo=0, lo_open=True)
    number("mu", mu)
    number("sigma", sigma, lo=0)
    number("dt", dt, lo=0, lo_open=True)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise InvalidInputError("n", f"must be a whole number >= 0, got {n!r}")


def gbm_paths(*, s0: float, mu: float, sigma: float, dt: float, n: int, n_paths: int,
              seed: int | np.random.Generator | None, jumps: Jumps | None = None) -> FloatArray:
    """``n_paths`` seeded GBM paths of ``n`` steps; shape ``(n_paths, n + 1)``, column 0 is ``s0``.

    Notes
    -----
    Exact discretisation of ``dS = mu S dt + sigma S dW`` (plus jumps)::

        log S[k+1] = log S[k] + (mu - sigma**2 / 2) * dt + sigma * sqrt(dt) * Z[k]
                     + N[k] * jump.mean + sqrt(N[k]) * jump.std * Z'[k],   N[k] ~ Poisson(rate * dt)

    Row ``i`` uses the same random stream for any ``n_paths`` > i only when ``n_paths`` is equal;
    use :func:`gbm_path` for a single reproducible path.
    """
    _check_gbm(s0, sigma, dt, n, mu)
    if isinstance(n_paths, bool) or not isinstance(n_paths, int | np.integer) or n_paths < 1:
        raise InvalidInputError("n_paths", f"must be a whole number >= 1, got {n_paths!r}")
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal((int(n_paths), int(n)))
    steps *= sigma * math.sqrt(dt)
    steps += (mu - 0.5 * sigma * sigma) * dt
    if jumps is not None and jumps.rate > 0:
        counts = rng.poisson(jumps.rate * dt, size=steps.shape).astype(np.float64)
        jz = rng.standard_normal(steps.shape) if jumps.std > 0 else 0.0
        steps += counts * jumps.mean + np.sqrt(counts) * jumps.std * jz
    out = np.empty((int(n_paths), int(n) + 1), dtype=np.float64)
    out[:, 0] = 0.0
    np.cumsum(steps, axis=1, out=out[:, 1:])
    np.exp(out, out=out)
    out *= s0
    return out


def gbm_path(*, s0: float, mu: float, sigma: float, dt: float, n: int,
             seed: int | np.random.Generator | None, jumps: Jumps | None = None) -> FloatArray:
    """One seeded geometric-Brownian-motion path of ``n`` steps: an array of ``n + 1`` prices.

    Parameters
    ----------
    s0 : float
        Starting price (> 0); ``out[0] == s0``.
    mu, sigma : float
        Drift and volatility per unit of time (the unit of ``dt``). For annualised figures and
        ``dt`` in seconds, divide: ``sigma_per_s = sigma_annual / sqrt(SECONDS_PER_YEAR)``.
    dt : float
        Step length (> 0).
    n : int
        Number of steps (>= 0).
    seed : int, numpy Generator or None
        Seed of ``numpy.random.default_rng``; the same seed gives the same path. A
        ``numpy.random.Generator`` continues its own stream: a live feed calls
        ``gbm_path(s0=last_price, ..., seed=rng)`` chunk after chunk with one generator, and the
        chunks join into one seeded path.
    jumps : Jumps, optional
        Poisson log-normal jumps added to the log price.

    Returns
    -------
    numpy.ndarray
        Shape ``(n + 1,)``.

    Notes
    -----
    ``log S[k+1] = log S[k] + (mu - sigma**2/2) dt + sigma sqrt(dt) Z[k]`` (exact for GBM), so
    ``E[S[n]] = s0 * exp(mu * n * dt)`` without jumps.

    Examples
    --------
    >>> p = gbm_path(s0=100.0, mu=0.0, sigma=0.0, dt=1.0, n=3, seed=1)
    >>> p.tolist()
    [100.0, 100.0, 100.0, 100.0]
    >>> bool((gbm_path(s0=100.0, mu=0.0, sigma=0.2, dt=0.01, n=5, seed=7)
    ...       == gbm_path(s0=100.0, mu=0.0, sigma=0.2, dt=0.01, n=5, seed=7)).all())
    True
    """
    return gbm_paths(s0=s0, mu=mu, sigma=sigma, dt=dt, n=n, n_paths=1, seed=seed, jumps=jumps)[0]


def time_grid(*, n: int, dt: float, t0: float = 0.0) -> FloatArray:
    """``n + 1`` times ``t0, t0 + dt, ..., t0 + n*dt`` (seconds)."""
    number("dt", dt, lo=0, lo_open=True)
    return t0 + dt * np.arange(int(n) + 1, dtype=np.float64)


def linear_crash(*, s0: float, s1: float, t_start: float, t_end: float, dt: float, n: int) -> FloatArray:
    """Flat at ``s0`` until ``t_start``, a straight line to ``s1`` at ``t_end``, flat after.

    Sampled on ``time_grid(n=n, dt=dt)``; returns ``n + 1`` prices.

    Examples
    --------
    >>> linear_crash(s0=100.0, s1=80.0, t_start=1.0, t_end=3.0, dt=1.0, n=4).tolist()
    [100.0, 100.0, 90.0, 80.0, 80.0]
    """
    if s0 <= 0 or s1 <= 0:
        raise InvalidInputError("s1" if s0 > 0 else "s0", "prices must be > 0")
    if not t_end > t_start:
        raise InvalidInputError("t_end", f"must be after t_start ({t_start:g}), got {t_end:g}")
    t = time_grid(n=n, dt=dt)
    return np.interp(t, [t_start, t_end], [s0, s1])


def gap(*, s0: float, s1: float, t_gap: float, dt: float, n: int) -> FloatArray:
    """``s0`` before ``t_gap`` and ``s1`` from ``t_gap`` on: a jump with no price in between.

    Examples
    --------
    >>> gap(s0=100.0, s1=70.0, t_gap=2.0, dt=1.0, n=3).tolist()
    [100.0, 100.0, 70.0, 70.0]
    """
    if s0 <= 0 or s1 <= 0:
        raise InvalidInputError("s1" if s0 > 0 else "s0", "prices must be > 0")
    t = time_grid(n=n, dt=dt)
    return np.where(t < t_gap, float(s0), float(s1))


def with_last_wick(path: PricePath, *, t_start: float, duration: float, price: float) -> PricePath:
    """Replace the last price by ``price`` for ``t_start <= t < t_start + duration``; mark unchanged.

    A wick is a brief print far from fair value (a thin book swept by one order). Exchanges trigger
    liquidation on the mark, so the wick only matters to stop orders that watch the last price.
    """
    number("wick.price", price, lo=0, lo_open=True)
    number("wick.duration", duration, lo=0, lo_open=True)
    inside = (path.t >= t_start) & (path.t < t_start + duration)
    return PricePath(t=path.t, mark=path.mark, last=np.where(inside, float(price), path.last))


def path_from_points(t: ArrayLike, mark: ArrayLike, last: ArrayLike | None = None, *,
                     dt: float | None = None) -> PricePath:
    """A path through explicit points; with ``dt`` the points are joined by straight lines.

    Examples
    --------
    >>> p = path_from_points([0, 10], [100, 90], dt=5)
    >>> p.mark.tolist(), p.last.tolist()
    ([100.0, 95.0, 90.0], [100.0, 95.0, 90.0])
    """
    tt = np.asarray(t, dtype=np.float64)
    mm = np.asarray(mark, dtype=np.float64)
    ll = mm if last is None else np.asarray(last, dtype=np.float64)
    raw = PricePath(t=tt, mark=mm, last=ll)  # validates the points themselves
    if dt is None:
        return raw
    number("dt", dt, lo=0, lo_open=True)
    n = math.floor((raw.t[-1] - raw.t[0]) / dt + 1e-9)
    grid = raw.t[0] + dt * np.arange(n + 1)
    if grid[-1] < raw.t[-1]:
        grid = np.append(grid, raw.t[-1])
    return PricePath(t=grid, mark=np.interp(grid, raw.t, raw.mark), last=np.interp(grid, raw.t, raw.last))


def mark_from_index(t: ArrayLike, index: ArrayLike, last: ArrayLike, *, window_s: float) -> PricePath:
    """Mark = index + moving average of the basis ``last - index`` over the past ``window_s`` seconds.

    Binance's mark is the index plus a moving average of the basis; Hyperliquid's uses a 150 s EMA of
    ``mid - oracle``. A wick of duration ``d`` and depth ``D`` in last moves this mark by at most
    about ``D * d / window_s``, so a 1 s wick against a 60 s window shows a sixtieth of its depth.

    The window average is the plain mean of the samples ``t[j]`` in ``(t[i] - window_s, t[i]]``
    (a running sum, so a million points cost a few numpy passes).

    Examples
    --------
    >>> p = mark_from_index([0, 1, 2, 3], [100, 100, 100, 100], [100, 100, 40, 100], window_s=3)
    >>> p.mark.tolist()
    [100.0, 100.0, 80.0, 80.0]
    """
    tt = np.asarray(t, dtype=np.float64)
    ix = np.asarray(index, dtype=np.float64)
    la = np.asarray(last, dtype=np.float64)
    PricePath(t=tt, mark=ix, last=la)  # validate shapes, order and signs
    if not (window_s > 0 and math.isfinite(window_s)):
        raise InvalidInputError("window_s", f"must be > 0, got {window_s!r}")
    basis = la - ix
    csum = np.concatenate(([0.0], np.cumsum(basis)))
    lo = np.searchsorted(tt, tt - window_s, side="right")
    hi = np.arange(tt.size) + 1
    avg = (csum[hi] - csum[lo]) / (hi - lo)
    mark = ix + avg
    if np.any(mark <= 0):
        k = int(np.argmax(mark <= 0))
        raise InvalidInputError("mark", f"index + averaged basis is not positive at point {k}")
    return PricePath(t=tt, mark=mark, last=la)


# --------------------------------------------------------------------------------------- CSV import

_PRICE_COLUMNS: Final = ("timestamp", "price")
_OHLC_COLUMNS: Final = ("timestamp", "open", "high", "low", "close")


def _parse_time(text: str, where: str) -> float:
    s = text.strip()
    try:
        v = float(s)
    except ValueError:
        try:
            dtm = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(where, f"timestamp {s!r} is neither seconds nor an ISO-8601 "
                                           "date-time") from None
        return dtm.timestamp() if dtm.tzinfo else dtm.replace(tzinfo=None).timestamp()
    if not math.isfinite(v):
        raise InvalidInputError(where, f"timestamp {s!r} is not finite")
    return v


def _parse_price(text: str, where: str, column: str) -> float:
    try:
        v = float(text.strip())
    except ValueError:
        raise InvalidInputError(where, f"{column} {text.strip()!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise InvalidInputError(where, f"{column} must be a finite number > 0, got {text.strip()!r}")
    return v


def read_price_csv(source: str | Path | io.TextIOBase, *, name: str | None = None) -> PricePath:
    """Read a price series from CSV: ``timestamp,price`` or ``timestamp,open,high,low,close``.

    The first row must be the header (column names, any case, in either order above). Timestamps are
    seconds (Unix time or from 0) or ISO-8601 date-times; they must increase strictly. The series is
    the last price; the mark equals it (build another mark with :func:`mark_from_index`).

    An OHLC bar of length ``d`` (the gap to the next bar; the median gap for the final bar) becomes
    four points: open at ``t``, then the extreme met first at ``t + d/4`` (low for a rising bar,
    high for a falling one), the other extreme at ``t + d/2`` and close at ``t + 3d/4``. That order is
    an assumption (a bar does not record it) and the pessimistic-neutral convention of backtesters.

    Every bad row raises :class:`InvalidInputError` whose field is ``"<name> line <n>"``, with ``n``
    counted from 1 including the header.

    Parameters
    ----------
    source : str, Path or text stream
        A path to a file, or a stream (``io.StringIO``). A ``str`` is a path.
    name : str, optional
        The file name shown in messages (default: the path, or ``"csv"``).
    """
    if isinstance(source, str | Path):
        label = name or str(source)
        try:
            text = read_text_file(source, max_bytes=MAX_CSV_BYTES, what="price CSV")
        except FileFormatError as exc:
            raise InvalidInputError(label, exc.problem) from None
        stream: io.TextIOBase = io.StringIO(text)
    else:
        label = name or "csv"
        stream = source
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(stream)
    try:
        for i, r in enumerate(reader):
            if r and any(c.strip() for c in r):
                rows.append((i + 1, r))
                if len(rows) > MAX_POINTS + 1:
                    raise InvalidInputError(label, f"more than {MAX_POINTS:,} rows; a price path may hold at most "
                                                   f"{MAX_POINTS:,} points")
    except csv.Error as exc:  # a field over the csv module's limit (128 KB), a NUL byte
        # said without quoting the file: it may not be a price file at all
        raise InvalidInputError(f"{label} line {reader.line_num}", f"not a CSV row ({exc})") from None
    if not rows:
        raise InvalidInputError(label, "the file is empty; expected a header timestamp,price or "
                                       "timestamp,open,high,low,close")
    hdr_line, header = rows[0]
    cols = tuple(c.strip().lower() for c in header)
    if cols == _PRICE_COLUMNS:
        ohlc = False
    elif cols == _OHLC_COLUMNS:
        ohlc = True
    else:
        # never echoed: a file that is not a price CSV (a path mistyped into a scenario) is not
        # read out to whoever sees the message
        raise InvalidInputError(f"{label} line {hdr_line}", f"the header ({len(header)} column{'s' if len(header) != 1 else ''}) is not "
                                "'timestamp,price' or 'timestamp,open,high,low,close': not a price CSV")
    width = len(cols)
    times: list[float] = []
    values: list[tuple[float, ...]] = []
    for n, row in rows[1:]:
        where = f"{label} line {n}"
        if len(row) != width:
            raise InvalidInputError(where, f"expected {width} columns ({','.join(cols)}), got {len(row)}")
        t = _parse_time(row[0], where)
        if times and t <= times[-1]:
            raise InvalidInputError(where, f"timestamp {row[0].strip()!r} is not after the previous row's")
        vals = tuple(_parse_price(row[k], where, cols[k]) for k in range(1, width))
        if ohlc:
            o, h, lo, c = vals
            if h < max(o, c, lo) or lo > min(o, c, h):
                raise InvalidInputError(where, f"high {h:g} and low {lo:g} must bracket open {o:g} "
                                               f"and close {c:g}")
        times.append(t)
        values.append(vals)
    if not times:
        raise InvalidInputError(label, "no data rows after the header")
    t_arr = np.asarray(times)
    if not ohlc:
        p = np.asarray([v[0] for v in values])
        return PricePath(t=t_arr, mark=p, last=p)
    gaps = np.diff(t_arr)
    d_last = float(np.median(gaps)) if gaps.size else 1.0
    d = np.append(gaps, d_last)
    v = np.asarray(values)  # columns open, high, low, close
    rising = v[:, 3] >= v[:, 0]
    first = np.where(rising, v[:, 2], v[:, 1])
    second = np.where(rising, v[:, 1], v[:, 2])
    tt = np.stack([t_arr, t_arr + d / 4, t_arr + d / 2, t_arr + 3 * d / 4], axis=1).ravel()
    pp = np.stack([v[:, 0], first, second, v[:, 3]], axis=1).ravel()
    return PricePath(t=tt, mark=pp, last=pp)

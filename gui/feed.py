"""The mark-price feed behind the live chart: a seeded GBM stream or a replayed CSV, with history.

The history lives in preallocated numpy buffers (``t`` and ``mark``) that grow by doubling, so a
million points cost two float64 arrays and appending a frame's worth of points is a slice copy. A
:class:`~gui.decimate.MinMaxPyramid` follows every append and truncation (O(new points)): the
chart asks :meth:`Feed.envelope` for what one view's pixels need, and :meth:`Feed.mark_range` gives
the lowest and highest mark in any time window (for View all), neither reading the whole history.

The prices themselves come from ``core.prices``: :func:`core.prices.gbm_path` generates the stream
in chunks (chunk ``k`` is seeded from the feed seed and ``k``, and starts at the previous chunk's last
price, so the same seed always gives the same path however fast it is played), and
:func:`core.prices.read_price_csv` reads a file to replay.
"""
from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

from core.prices import SECONDS_PER_YEAR, PricePath, gbm_path
from gui.decimate import EnvelopeCache, MinMaxPyramid

FloatArray = NDArray[np.float64]

CHUNK: Final = 65_536  # points generated at a time by the GBM source
DT_S: Final = 1.0  # one simulated second between GBM points


class Feed:
    """A stream of mark prices with its history.

    Parameters
    ----------
    s0 : starting mark (the scenario's mark).
    seed : seed of the GBM stream; the same seed, start and volatility give the same path.
    volatility : annualised volatility of the GBM stream (0.8 = 80 %/year).
    capacity : initial size of the history buffers (they double when full).
    """

    def __init__(self, *, s0: float, seed: int, volatility: float, capacity: int = 1 << 16) -> None:
        self.seed = int(seed)
        self.volatility = float(volatility)
        self._t = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0
        self.pyramid = MinMaxPyramid()
        self._envelopes = EnvelopeCache()
        self.version = 0  # changes whenever the history does (append, truncate, reset)
        self.replay: PricePath | None = None
        self.source_name = "simulated"
        self.reset(s0)

    # ------------------------------------------------------------------ state

    def reset(self, s0: float | None = None) -> None:
        """Back to the first point: ``s0`` (or the replay's first price)."""
        if s0 is not None:
            self.s0 = float(s0)
        self._pending = np.empty(0)
        self._pending_t = np.empty(0)
        self._pos = 0  # next index into the replay
        self._chunk = 0
        self.n = 0
        self.pyramid.truncate(0)
        self._envelopes.clear()
        if self.replay is not None:
            self._append(self.replay.t[:1] - self.replay.t[0], self.replay.mark[:1])
            self._pos = 1
        else:
            self._append(np.zeros(1), np.array([self.s0]))

    def load_replay(self, path: PricePath, name: str = "csv") -> None:
        """Replay ``path`` (its time axis shifted to start at 0) instead of the GBM stream."""
        self.replay = path
        self.source_name = name
        self.reset()

    def use_simulation(self, *, seed: int | None = None, volatility: float | None = None,
                       s0: float | None = None) -> None:
        self.replay = None
        self.source_name = "simulated"
        if seed is not None:
            self.seed = int(seed)
        if volatility is not None:
            self.volatility = float(volatility)
        self.reset(s0)

    @property
    def finished(self) -> bool:
        return self.replay is not None and self._pos >= len(self.replay)

    @property
    def last_mark(self) -> float:
        return float(self._y[self.n - 1])

    @property
    def last_t(self) -> float:
        return float(self._t[self.n - 1])

    def view(self) -> tuple[FloatArray, FloatArray]:
        """The history so far as read-only views (no copy)."""
        t, y = self._t[: self.n], self._y[: self.n]
        t.flags.writeable = False
        y.flags.writeable = False
        return t, y

    def envelope(self, x0: float, x1: float, columns: int) -> tuple[FloatArray, FloatArray]:
        """What a plot ``columns`` pixels wide showing feed times ``[x0, x1]`` needs to draw.

        The raw points when there are few, else each pixel column's lowest and highest mark in time
        order (:func:`gui.decimate.envelope`), O(columns) whatever the history's length. While the
        view stays, only the columns that new points reach are recomputed
        (:class:`gui.decimate.EnvelopeCache`); the arrays are the feed's: do not write to them.
        """
        t, y = self.view()
        return self._envelopes.envelope(t, y, self.pyramid, x0, x1, columns)

    def mark_range(self, x0: float = -math.inf, x1: float = math.inf) -> tuple[float, float] | None:
        """Lowest and highest mark at feed times ``x0 <= t <= x1`` (None if none), in O(log n)."""
        t, y = self.view()
        i0 = int(np.searchsorted(t, x0, side="left"))
        i1 = int(np.searchsorted(t, x1, side="right"))
        if i1 <= i0:
            return None
        lo, hi = self.pyramid.extremes(y, i0, i1)
        return float(y[lo]), float(y[hi])

    # ------------------------------------------------------------------ advancing

    def advance(self, k: int) -> tuple[int, int]:
        """Append up to ``k`` new points; return ``(first_new_index, count)``."""
        start = self.n
        if k <= 0:
            return start, 0
        if self.replay is not None:
            hi = min(self._pos + k, len(self.replay))
            t = self.replay.t[self._pos:hi] - self.replay.t[0]
            self._append(t, self.replay.mark[self._pos:hi])
            self._pos = hi
        else:
            while self._pending.size < k:
                self._generate()
            self._append(self._pending_t[:k], self._pending[:k])
            self._pending, self._pending_t = self._pending[k:], self._pending_t[k:]
        return start, self.n - start

    def _generate(self) -> None:
        last = self._pending[-1] if self._pending.size else self.last_mark
        last_t = self._pending_t[-1] if self._pending_t.size else self.last_t
        sigma = self.volatility / math.sqrt(SECONDS_PER_YEAR)
        # SeedSequence mixes (seed, chunk) into independent streams: reproducible for any speed.
        seed = int(np.random.SeedSequence([self.seed, self._chunk]).generate_state(1)[0])
        path = gbm_path(s0=float(last), mu=0.0, sigma=sigma, dt=DT_S, n=CHUNK, seed=seed)[1:]
        t = last_t + DT_S * np.arange(1, CHUNK + 1, dtype=np.float64)
        self._chunk += 1
        self._pending = np.concatenate((self._pending, path))
        self._pending_t = np.concatenate((self._pending_t, t))

    def _append(self, t: FloatArray, y: FloatArray) -> None:
        m = len(y)
        need = self.n + m
        if need > self._y.size:
            cap = max(need, 2 * self._y.size)
            for name in ("_t", "_y"):
                old = getattr(self, name)
                new = np.empty(cap, dtype=np.float64)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        self._t[self.n:need] = t
        self._y[self.n:need] = y
        self.n = need
        self.pyramid.update(self._y[:need])
        self.version += 1

    def truncate(self, n: int) -> None:
        """Forget the points from index ``n`` on (a liquidation stops the stream there)."""
        n = max(1, min(int(n), self.n))
        if self.replay is not None:
            self._pos -= self.n - n
        else:
            self._pending = np.empty(0)
            self._pending_t = np.empty(0)
        self.n = n
        self.pyramid.truncate(n)
        self._envelopes.clear()
        self.version += 1

    def fill_history(self, n_points: int) -> None:
        """Advance until the history holds ``n_points`` (benchmarks, stress tests)."""
        while self.n < n_points and not self.finished:
            self.advance(min(CHUNK, n_points - self.n))

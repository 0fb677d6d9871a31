"""Min/max decimation of a growing series: a chart draws what its pixels can show, not its history.

A line plot ``w`` pixels wide can show, in each pixel column, no more than the lowest and the
highest value of the points that fall in it. :class:`MinMaxPyramid` keeps, for every block of
``2**k`` consecutive points (``k = base, base + 1, ...``, a pyramid of power-of-two blocks), the
*index* of the block's minimum and of its maximum, updated as points arrive.

:meth:`MinMaxPyramid.envelope_indices` then gives, for each pixel column of a view, the column's
lowest and highest raw point in time order (so a spike survives and the line still runs forward in
time). Each column is a range of indices; its extremes are found as a segment tree finds them:
loose points up to the first and from the last block boundary, then at each level at most one
block on either side, all columns at once in numpy. Blocks are never taken whole across a column
edge: a block that straddles two columns could hide the lower column's minimum behind the other's.
So the drawn minimum and maximum of every column are the raw series' own, exactly
(``tests/gui/test_decimate.py`` checks it against brute force).

Costs: appending ``m`` points updates ``O(m)`` blocks plus ``O(1)`` per level that gains a block;
truncating is ``O(1)``; the extremes of any range cost ``O(log n)``, an envelope
``O(columns * log(points per column))``, and :class:`EnvelopeCache` recomputes only the columns
that new points reach while the view stays. Nothing else depends on the history's length.
Memory: two ``intp`` indices per block of ``2**base`` points or more, about ``2 n`` bytes
(``base = 4``) beside the ``16 n`` bytes of the series itself.

The values must be finite (a feed never holds NaN: ``core.prices`` refuses them in a replayed CSV,
and the GBM stream is finite); :meth:`~MinMaxPyramid.update` refuses others.

Examples
--------
>>> import numpy as np
>>> t = np.arange(8.0)
>>> y = np.array([5., 1., 9., 4., 4., 3., 4., 8.])
>>> p = MinMaxPyramid(base_log2=1)
>>> p.update(y)
>>> [int(i) for i in p.extremes(y, 0, 8)]  # index of the minimum, of the maximum
[1, 2]
>>> # two columns, t in [0, 4) and [4, 8]: (5 1 9 4) -> 1 then 9; (4 3 4 8) -> 3 then 8
>>> [int(i) for i in p.envelope_indices(t, y, 0.0, 8.0, columns=2)]
[1, 2, 5, 7]
"""
from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from core.errors import InvalidInputError

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]

BASE_LOG2: Final = 4  # the finest stored blocks hold 16 points; shorter runs are read from the raw points
RAW_POINTS_PER_COLUMN: Final = 4  # below this many visible points per pixel column, draw the raw points


class MinMaxPyramid:
    """Indices of the minimum and the maximum of every block of ``2**k`` points, ``k >= base_log2``.

    The pyramid covers the first :attr:`n` points of a series that only grows at its end (or is
    cut back with :meth:`truncate`). It stores no values: every method takes the series ``y``
    itself (the first ``n`` points, as the owner holds them), so the owner may move its buffer.

    Parameters
    ----------
    base_log2 : the finest stored level holds blocks of ``2**base_log2`` points.
    """

    def __init__(self, base_log2: int = BASE_LOG2) -> None:
        if base_log2 < 1:
            raise InvalidInputError("base_log2", f"must be >= 1, got {base_log2}")
        self.base = int(base_log2)
        self.n = 0
        # Every level in one flat array per kind, so that a query gathers across levels at once:
        # level j (blocks of 2**(base + j) points) has cap >> j slots from offset 2 cap - 2 (cap >> j);
        # only its first n >> (base + j) blocks are current. cap, a power of two, doubles as needed.
        self._cap = 0
        self._imin = np.empty(0, dtype=np.intp)
        self._imax = np.empty(0, dtype=np.intp)

    def _offset(self, j: int) -> int:
        return 2 * self._cap - 2 * (self._cap >> j)

    def level(self, j: int) -> tuple[IndexArray, IndexArray]:
        """Views of level ``j``'s current blocks: the indices of their minima, of their maxima."""
        count = self.n >> (self.base + j)
        off = self._offset(j)
        return self._imin[off:off + count], self._imax[off:off + count]

    # ------------------------------------------------------------------ keeping up with the series

    def truncate(self, n: int) -> None:
        """Forget the points from index ``n`` on. O(1): the blocks before ``n`` are unchanged."""
        self.n = max(0, min(int(n), self.n))

    def update(self, y: FloatArray) -> None:
        """Cover all of ``y``, whose first :attr:`n` points must be those already covered.

        Raises InvalidInputError if a new value is not finite.
        """
        old, new = self.n, len(y)
        if new < old:
            raise InvalidInputError("y", f"holds {new} points, fewer than the {old} already covered; truncate first")
        if new == old:
            return
        if not np.isfinite(y[old:]).all():
            raise InvalidInputError("y", "every value must be finite (the chart draws no gaps)")
        lo, hi = old >> self.base, new >> self.base
        if hi > self._cap:
            self._grow(hi)
        self.n = new
        if hi == lo:
            return
        size = 1 << self.base
        blocks = y[lo * size: hi * size].reshape(hi - lo, size)
        start = np.arange(lo, hi, dtype=np.intp) * size
        self._imin[lo:hi] = start + blocks.argmin(axis=1)
        self._imax[lo:hi] = start + blocks.argmax(axis=1)
        j = 0
        while True:  # each level from the one below it: the better of each pair of blocks
            below = self._offset(j)
            j += 1
            lo, hi = lo >> 1, hi >> 1  # the block counts of level j before and after
            if hi == lo:
                return  # no new block here, so none above either
            here = self._offset(j)
            for flat, better in ((self._imin, np.less), (self._imax, np.greater)):
                left = flat[below + 2 * lo: below + 2 * hi: 2]
                right = flat[below + 2 * lo + 1: below + 2 * hi: 2]
                flat[here + lo: here + hi] = np.where(better(y[right], y[left]), right, left)

    def _grow(self, blocks: int) -> None:
        """Room for ``blocks`` blocks of the finest level: double (at least), and move every level."""
        cap = max(1 << (blocks - 1).bit_length(), 2 * self._cap, 16)
        old = self._cap
        imin = np.empty(2 * cap - 1, dtype=np.intp)
        imax = np.empty(2 * cap - 1, dtype=np.intp)
        self._cap = cap
        j = 0
        while (self.n >> (self.base + j)) > 0:
            count = self.n >> (self.base + j)
            src = 2 * old - 2 * (old >> j)
            dst = self._offset(j)
            imin[dst:dst + count] = self._imin[src:src + count]
            imax[dst:dst + count] = self._imax[src:src + count]
            j += 1
        self._imin, self._imax = imin, imax

    # ------------------------------------------------------------------ queries

    def extremes(self, y: FloatArray, i0: int, i1: int) -> tuple[int, int]:
        """Indices of the minimum and of the maximum of ``y[i0:i1]`` (a non-empty range), in O(log n)."""
        imin, imax = self.argextremes(y, np.array([i0]), np.array([i1]))
        return int(imin[0]), int(imax[0])

    def argextremes(self, y: FloatArray, starts: IndexArray, stops: IndexArray) -> tuple[IndexArray, IndexArray]:
        """Indices of the minimum and of the maximum of each ``y[starts[c]:stops[c]]`` (non-empty ranges).

        Each range splits as a segment tree splits it: fewer than ``2**base`` loose points up to the
        first and from the last block boundary, then at each level ``j`` at most one block on
        either side. In block units of the finest level, a range ``[L, R)`` takes at level ``j``
        the block ``ceil(L / 2**j)`` if that is odd and below ``floor(R / 2**j)``, and the block
        ``floor(R / 2**j) - 1`` if ``floor(R / 2**j)`` is odd and above the left one. All ranges
        and all levels go at once, in a fixed number of numpy operations on ``(ranges, levels)``
        arrays; the lowest and the highest of the candidate points are the range's. Where a range
        has no candidate of some kind its own first point stands in (harmless: it is one of its
        points).
        """
        if len(y) != self.n:
            raise InvalidInputError("y", f"holds {len(y)} points but the pyramid covers {self.n}; update it first")
        starts = np.asarray(starts, dtype=np.intp)
        stops = np.asarray(stops, dtype=np.intp)
        if starts.size and not (np.all(starts >= 0) and np.all(stops > starts) and np.all(stops <= self.n)):
            raise InvalidInputError("range", f"expected 0 <= start < stop <= {self.n} for every range")
        size = 1 << self.base
        a = np.minimum(-(-starts // size) * size, stops)  # the first block boundary at or after start
        b = np.maximum(stops // size * size, a)  # the last at or before stop
        first = starts[:, None]
        # The loose points, each side's run clamped to its last point (or to start when empty).
        offsets = np.arange(size - 1, dtype=np.intp)
        cands = [np.minimum(first + offsets, np.maximum(a - 1, starts)[:, None]),
                 np.minimum(b[:, None] + offsets, (stops - 1)[:, None])]
        lo, hi = a >> self.base, b >> self.base
        levels = int((hi - lo).max(initial=0)).bit_length()
        if levels:
            j = np.arange(levels, dtype=np.intp)
            lo_j = -((-lo[:, None]) >> j)  # ceil(lo / 2**j)
            hi_j = hi[:, None] >> j
            take_left = (lo_j & 1).astype(bool) & (lo_j < hi_j)
            take_right = (hi_j & 1).astype(bool) & (lo_j + (lo_j & 1) < hi_j)
            offset = 2 * self._cap - 2 * (self._cap >> j)
            last = self._imin.size - 1
            for take, block in ((take_left, lo_j), (take_right, hi_j - 1)):
                at = np.clip(offset + block, 0, last)
                cands.append(np.where(take, self._imin[at], first))
                cands.append(np.where(take, self._imax[at], first))
        c = np.concatenate(cands, axis=1)
        v = y[c]
        rows = np.arange(len(c))
        return c[rows, v.argmin(axis=1)], c[rows, v.argmax(axis=1)]

    def envelope_indices(self, t: FloatArray, y: FloatArray, x0: float, x1: float, columns: int, *,
                         first_column: int = 0) -> IndexArray | None:
        """Indices of the points to draw for the x-range ``[x0, x1]`` on ``columns`` pixel columns.

        None means "all of :func:`visible_span`": with fewer than :data:`RAW_POINTS_PER_COLUMN`
        points per column the raw points are cheaper than any envelope. Otherwise: the point just
        before ``x0`` (if any), then for each pixel column that holds points its lowest and its
        highest point in time order (the same index twice where they coincide), then the point just
        after ``x1``, so the line runs to the plot's edges. Column ``c`` holds the points with
        ``column_edges(x0, x1, columns)[c] <= t <`` the next edge; the last one includes ``x1``.

        ``first_column > 0`` gives only the columns from that one on (and the point after ``x1``),
        never None: what :class:`EnvelopeCache` appends to the columns that did not change.
        """
        columns = max(int(columns), 1)
        i0, i1 = visible_span(t, x0, x1)
        if first_column == 0 and i1 - i0 < RAW_POINTS_PER_COLUMN * columns:
            return None
        edges = np.searchsorted(t, column_edges(x0, x1, columns)[first_column:], side="left")
        edges[-1] = np.searchsorted(t, x1, side="right")
        starts, stops = edges[:-1], edges[1:]
        held = stops > starts
        imin, imax = self.argextremes(y, starts[held], stops[held])
        inner = np.empty(2 * len(imin), dtype=np.intp)
        inner[0::2] = np.minimum(imin, imax)
        inner[1::2] = np.maximum(imin, imax)
        before = [i0] if first_column == 0 and i0 < edges[0] else []
        after = [i1 - 1] if i1 - 1 >= edges[-1] else []
        return np.concatenate((np.array(before, dtype=np.intp), inner, np.array(after, dtype=np.intp)))


def column_edges(x0: float, x1: float, columns: int) -> FloatArray:
    """The ``columns + 1`` edges of the pixel columns across ``[x0, x1]`` (the same numbers every time)."""
    return x0 + (x1 - x0) * (np.arange(columns + 1) / columns)


class EnvelopeCache:
    """The last envelope asked for, extended instead of recomputed while its view stays put.

    A followed chart often keeps its view for several frames while points arrive at its right end.
    Appended points can only change the pixel column of the previous last point and those after
    it, so only those are recomputed; the result is the same, to the bit, as a full
    :func:`envelope`. The owner calls :meth:`clear` whenever the series is cut back or replaced.
    """

    def __init__(self) -> None:
        self._key: tuple[float, float, int] | None = None
        self._n = 0
        self._t = np.empty(0)
        self._y = np.empty(0)

    def clear(self) -> None:
        self._key = None

    def envelope(self, t: FloatArray, y: FloatArray, pyramid: MinMaxPyramid, x0: float, x1: float,
                 columns: int) -> tuple[FloatArray, FloatArray]:
        """:func:`envelope` of the series for the view, reusing the last one's unchanged columns."""
        columns = max(int(columns), 1)
        key = (x0, x1, columns)
        n = len(t)
        if key == self._key and 0 < self._n <= n:
            if self._n == n:
                return self._t, self._y
            edge_x = column_edges(x0, x1, columns)
            col = min(int(np.searchsorted(edge_x, t[self._n - 1], side="right")) - 1, columns - 1)
            if col > 0:
                idx = pyramid.envelope_indices(t, y, x0, x1, columns, first_column=col)
                keep = self._t < edge_x[col]
                self._t = np.concatenate((self._t[keep], t[idx]))
                self._y = np.concatenate((self._y[keep], y[idx]))
                self._n = n
                self._freeze()
                return self._t, self._y
        idx = pyramid.envelope_indices(t, y, x0, x1, columns)
        if idx is None:  # raw points: cheap, and no envelope to extend
            self._key = None
            i0, i1 = visible_span(t, x0, x1)
            return t[i0:i1].copy(), y[i0:i1].copy()
        self._key, self._n, self._t, self._y = key, n, t[idx], y[idx]
        self._freeze()
        return self._t, self._y

    def _freeze(self) -> None:
        self._t.flags.writeable = False  # handed out on every hit: nobody may change them
        self._y.flags.writeable = False


def visible_span(t: FloatArray, x0: float, x1: float) -> tuple[int, int]:
    """Indices ``[i0, i1)`` of the points with ``x0 <= t <= x1``, plus one neighbour on either side.

    The neighbours let the line run to the plot's edges. ``t`` must increase.
    """
    n = len(t)
    i0 = max(int(np.searchsorted(t, x0, side="left")) - 1, 0)
    i1 = min(int(np.searchsorted(t, x1, side="right")) + 1, n)
    return i0, max(i0, i1)


def envelope(t: FloatArray, y: FloatArray, pyramid: MinMaxPyramid, x0: float, x1: float,
             columns: int) -> tuple[FloatArray, FloatArray]:
    """What to draw of the series ``(t, y)`` for the x-range ``[x0, x1]`` across ``columns`` pixels.

    Returns new arrays (never views of the series): the raw points when they are few enough,
    otherwise the min/max envelope of :meth:`MinMaxPyramid.envelope_indices`.
    """
    idx = pyramid.envelope_indices(t, y, x0, x1, columns)
    if idx is None:
        i0, i1 = visible_span(t, x0, x1)
        return t[i0:i1].copy(), y[i0:i1].copy()
    return t[idx], y[idx]

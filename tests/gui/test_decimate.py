"""The min/max pyramid behind the live chart, against brute force (gui/decimate.py is Qt-free).

What the chart needs of an envelope: every point it draws is a raw point, in time order, and in
every pixel column the lowest and the highest point drawn are the raw series' lowest and highest
there (so spikes survive); at most about four points per column, whatever the history's length.
"""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError
from gui.decimate import RAW_POINTS_PER_COLUMN, EnvelopeCache, MinMaxPyramid, envelope, visible_span
from gui.feed import Feed


def series(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random walk with spikes, on an irregular but increasing time axis."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.2, 2.0, n))
    y = 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    spikes = rng.choice(n, size=max(n // 500, 1), replace=False)
    y[spikes] += rng.choice([-50.0, 50.0], size=spikes.size)
    y[rng.choice(n, size=n // 10)] = 100.0  # ties: many equal values
    return t, y


def pyramid_of(y: np.ndarray, **kw: int) -> MinMaxPyramid:
    p = MinMaxPyramid(**kw)
    p.update(y)
    return p


def column_extremes(tx: np.ndarray, ty: np.ndarray, x0: float, x1: float, columns: int) -> dict[int, tuple]:
    """{pixel column: (lowest, highest)} of the points with x0 <= t <= x1, point by point.

    Column c spans [x0 + c (x1 - x0) / columns, the next edge); the last one includes x1.
    """
    edges = x0 + (x1 - x0) * (np.arange(columns + 1) / columns)
    inside = (tx >= x0) & (tx <= x1)
    col = np.minimum(np.searchsorted(edges, tx[inside], side="right") - 1, columns - 1)
    lo = np.full(columns, np.inf)
    hi = np.full(columns, -np.inf)
    np.minimum.at(lo, col, ty[inside])
    np.maximum.at(hi, col, ty[inside])
    return {int(c): (lo[c], hi[c]) for c in np.unique(col)}


def check_envelope(t, y, p, x0, x1, columns):
    tx, ty = envelope(t, y, p, x0, x1, columns)
    # Raw points only, in time order.
    idx = np.searchsorted(t, tx)
    assert np.all(t[np.minimum(idx, len(t) - 1)] == tx) and np.all(y[idx] == ty)
    assert np.all(np.diff(tx) >= 0)
    # Each column's lowest and highest point, exactly.
    assert column_extremes(tx, ty, x0, x1, columns) == column_extremes(t, y, x0, x1, columns)
    # The line runs on to the points just outside the window, when there are any.
    i0, i1 = visible_span(t, x0, x1)
    if i1 > i0 and t[i0] < x0:
        assert tx[0] == t[i0]
    if i1 > i0 and t[i1 - 1] > x1:
        assert tx[-1] == t[i1 - 1]
    # Few points: the raw ones below 4 per column, else 2 per column and the 2 neighbours.
    assert len(tx) <= max(RAW_POINTS_PER_COLUMN * columns, 2 * columns + 2)
    return tx, ty


@pytest.mark.parametrize("seed", range(6))
def test_envelope_keeps_every_columns_extremes_for_random_windows(seed):
    t, y = series(50_000, seed)
    p = pyramid_of(y)
    rng = np.random.default_rng(100 + seed)
    for _ in range(40):
        a, b = np.sort(rng.uniform(-20.0, t[-1] + 20.0, 2))
        columns = int(rng.integers(1, 3000))
        check_envelope(t, y, p, float(a), float(b), columns)


def test_envelope_draws_the_raw_points_when_zoomed_in():
    t, y = series(10_000, 1)
    p = pyramid_of(y)
    x0, x1 = float(t[5000]), float(t[5200])
    tx, ty = envelope(t, y, p, x0, x1, 800)  # ~200 points on 800 columns: raw
    i0, i1 = visible_span(t, x0, x1)
    assert (i0, i1) == (4999, 5202)
    assert np.array_equal(tx, t[i0:i1]) and np.array_equal(ty, y[i0:i1])
    tx[0] = -1.0  # a copy, never a view of the history
    assert t[i0] != -1.0


def test_envelope_of_a_million_points_is_a_few_per_column():
    t, y = series(1_000_000, 2)
    p = pyramid_of(y)
    tx, _ = check_envelope(t, y, p, float(t[0]), float(t[-1]), 1000)
    assert 2_000 <= len(tx) <= 4_004


def test_edge_cases_empty_one_point_and_windows_beyond_the_data():
    empty = np.empty(0)
    p = pyramid_of(empty)
    assert [a.size for a in envelope(empty, empty, p, 0.0, 10.0, 100)] == [0, 0]
    one_t, one_y = np.array([3.0]), np.array([7.0])
    p1 = pyramid_of(one_y)
    for x0, x1 in ((0.0, 10.0), (5.0, 9.0), (-9.0, -5.0)):
        tx, ty = envelope(one_t, one_y, p1, x0, x1, 100)
        assert list(tx) == [3.0] and list(ty) == [7.0]  # the neighbour the line would run to
    assert p1.extremes(one_y, 0, 1) == (0, 0)
    t, y = series(5_000, 3)
    p = pyramid_of(y)
    after = check_envelope(t, y, p, float(t[-1]) + 10.0, float(t[-1]) + 99.0, 500)
    assert list(after[0]) == [t[-1]]  # nothing in view: only the last point, off to the left
    before = check_envelope(t, y, p, float(t[0]) - 99.0, float(t[0]) - 10.0, 500)
    assert list(before[0]) == [t[0]]
    tx, _ = envelope(t, y, p, float(t[100]), float(t[100]), 500)  # a zero-width window
    assert list(tx) == list(t[99:102])


def test_extremes_of_any_range_equal_brute_force():
    _t, y = series(20_000, 4)
    for base in (1, 4, 6):
        p = pyramid_of(y, base_log2=base)
        rng = np.random.default_rng(base)
        for _ in range(300):
            i0, i1 = sorted(rng.integers(0, len(y) + 1, 2))
            if i1 == i0:
                continue
            lo, hi = p.extremes(y, int(i0), int(i1))
            assert y[lo] == y[i0:i1].min() and y[hi] == y[i0:i1].max()
            assert i0 <= lo < i1 and i0 <= hi < i1


def test_growing_in_frames_and_truncating_gives_the_pyramid_built_at_once():
    t, y = series(30_000, 5)
    rng = np.random.default_rng(5)
    buf = np.empty_like(y)
    p = MinMaxPyramid()
    n = 0
    while n < len(y):
        k = int(rng.integers(1, 700))
        if rng.random() < 0.1 and n > 10:  # a liquidation cuts the stream, which then goes on
            n = int(rng.integers(1, n))
            p.truncate(n)
            buf[n:] = -1.0  # whatever was there is gone
        m = min(k, len(y) - n)
        buf[n:n + m] = y[n:n + m]
        n += m
        p.update(buf[:n])
    assert n == len(y) and p.n == n
    whole = pyramid_of(y)
    for j in range(int(n >> whole.base).bit_length()):
        assert all(np.array_equal(a, b) for a, b in zip(p.level(j), whole.level(j), strict=True))
        block = 1 << (whole.base + j)  # and each block's entries are its extremes
        blocks = y[: len(p.level(j)[0]) * block].reshape(-1, block)
        assert np.array_equal(y[p.level(j)[0]], blocks.min(axis=1))
        assert np.array_equal(y[p.level(j)[1]], blocks.max(axis=1))
    check_envelope(t, y, p, float(t[0]), float(t[-1]), 700)


def test_refuses_what_it_cannot_draw():
    p = MinMaxPyramid()
    with pytest.raises(InvalidInputError, match="finite"):
        p.update(np.array([1.0, np.nan, 2.0]))
    p.update(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(InvalidInputError, match="truncate first"):
        p.update(np.array([1.0]))
    with pytest.raises(InvalidInputError, match="update it first"):
        p.extremes(np.arange(5.0), 0, 5)
    with pytest.raises(InvalidInputError, match="range"):
        p.extremes(np.array([1.0, 2.0, 3.0]), 2, 2)
    with pytest.raises(InvalidInputError, match="base_log2"):
        MinMaxPyramid(base_log2=0)


def test_an_envelope_extended_frame_by_frame_is_the_one_computed_afresh():
    t, y = series(60_000, 6)
    p = MinMaxPyramid()
    cache = EnvelopeCache()
    rng = np.random.default_rng(6)
    views = [(0.0, float(t[-1]) * 1.05, 700), (float(t[20_000]), float(t[40_000]), 300),
             (float(t[100]), float(t[400]), 900)]  # the whole future, a window, a zoom (raw points)
    n = 1
    while n < len(y):
        n = min(n + int(rng.integers(1, 400)), len(y))
        p.update(y[:n])
        x0, x1, columns = views[(n // 15_000) % len(views)]  # the view changes now and then
        got = cache.envelope(t[:n], y[:n], p, x0, x1, columns)
        want = envelope(t[:n], y[:n], p, x0, x1, columns)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    # Cut back (a liquidation): the owner clears the cache, and the envelope is the shorter one's.
    p.truncate(30_000)
    cache.clear()
    got = cache.envelope(t[:30_000], y[:30_000], p, *views[0])
    want = envelope(t[:30_000], y[:30_000], p, *views[0])
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_the_feed_keeps_its_pyramid_through_appends_cuts_and_resets():
    feed = Feed(s0=100.0, seed=3, volatility=0.8, capacity=1024)  # small: the buffers double often
    rng = np.random.default_rng(3)
    for step in range(60):
        if step % 17 == 16:
            feed.reset()
        elif step % 7 == 6:
            feed.truncate(int(rng.integers(1, feed.n + 1)))  # what a liquidation does
        else:
            feed.advance(int(rng.integers(1, 5_000)))
        t, y = feed.view()
        a, b = sorted(rng.uniform(-10.0, t[-1] + 10.0, 2))
        inside = y[(t >= a) & (t <= b)]
        want = (inside.min(), inside.max()) if inside.size else None
        assert feed.mark_range(a, b) == want
        assert feed.mark_range() == (y.min(), y.max())
        got = feed.envelope(0.0, float(t[-1]), 300)
        exp = envelope(t, y, feed.pyramid, 0.0, float(t[-1]), 300)
        assert np.array_equal(got[0], exp[0]) and np.array_equal(got[1], exp[1])

"""Price paths: seeded GBM, scripted shapes, explicit points, CSV import, mark from index."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.prices import (
    Jumps,
    PricePath,
    gap,
    gbm_path,
    gbm_paths,
    linear_crash,
    mark_from_index,
    path_from_points,
    read_price_csv,
    with_last_wick,
)

CSV = Path(__file__).resolve().parents[1] / "data" / "csv"


def test_gbm_is_seeded_and_starts_at_s0():
    a = gbm_path(s0=100.0, mu=0.1, sigma=0.5, dt=0.01, n=200, seed=42)
    b = gbm_path(s0=100.0, mu=0.1, sigma=0.5, dt=0.01, n=200, seed=42)
    c = gbm_path(s0=100.0, mu=0.1, sigma=0.5, dt=0.01, n=200, seed=43)
    assert a.shape == (201,)
    assert a[0] == 100.0
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(a > 0)


def test_gbm_log_returns_have_the_law_of_the_parameters():
    # Exact discretisation: log-returns are Normal((mu - sigma^2/2) dt, sigma^2 dt).
    # With 200,000 steps the sample mean's standard error is sigma*sqrt(dt)/sqrt(200000)
    # = 0.4*0.1/447 = 9e-5, and the sample std's is about sigma*sqrt(dt)/sqrt(2*200000) = 6.3e-5;
    # 5 standard errors is the tolerance.
    mu, sigma, dt, n = 0.3, 0.4, 0.01, 200_000
    p = gbm_path(s0=50.0, mu=mu, sigma=sigma, dt=dt, n=n, seed=1)
    r = np.diff(np.log(p))
    assert abs(r.mean() - (mu - sigma**2 / 2) * dt) < 5 * 9e-5
    assert abs(r.std() - sigma * math.sqrt(dt)) < 5 * 6.3e-5


def test_gbm_with_zero_volatility_is_the_drift_exactly():
    # sigma = 0: S_k = s0 * exp(mu * k * dt); 100 * exp(0.1 * 2 * 0.5) = 110.517...
    p = gbm_path(s0=100.0, mu=0.1, sigma=0.0, dt=0.5, n=2, seed=0)
    assert p[2] == pytest.approx(100.0 * math.exp(0.1), rel=1e-12)


def test_jumps_move_the_path_by_their_mean():
    # rate 1 per unit time, dt 1, 20,000 steps -> about 20,000 jumps of log size -0.01 (std 0):
    # the mean log-return shifts by rate*dt*mean = -0.01 with no diffusion.
    p = gbm_path(s0=100.0, mu=0.0, sigma=0.0, dt=1.0, n=20_000, seed=3, jumps=Jumps(rate=1.0, mean=-0.01))
    r = np.diff(np.log(p))
    # each log-return is -0.01 times a Poisson(1) count: mean -0.01, standard error 0.01/sqrt(20000)
    assert abs(r.mean() + 0.01) < 5 * 0.01 / math.sqrt(20_000)
    assert set(np.round(r / -0.01).astype(int)) <= set(range(20))


def test_gbm_paths_shape_and_rejections():
    ps = gbm_paths(s0=1.0, mu=0.0, sigma=0.2, dt=1.0, n=10, n_paths=7, seed=5)
    assert ps.shape == (7, 11)
    assert np.all(ps[:, 0] == 1.0)
    with pytest.raises(InvalidInputError, match="sigma: must be >= 0"):
        gbm_path(s0=1.0, mu=0.0, sigma=-1.0, dt=1.0, n=3, seed=0)
    with pytest.raises(InvalidInputError, match="s0: must be > 0"):
        gbm_path(s0=0.0, mu=0.0, sigma=1.0, dt=1.0, n=3, seed=0)
    with pytest.raises(InvalidInputError, match="dt"):
        gbm_path(s0=1.0, mu=0.0, sigma=1.0, dt=0.0, n=3, seed=0)
    with pytest.raises(InvalidInputError, match=r"jumps\.rate"):
        Jumps(rate=-1.0, mean=0.0)


def test_scripted_shapes():
    # flat 68,000 to t=2, straight to 61,500 at t=4: midpoint t=3 is 64,750
    c = linear_crash(s0=68_000.0, s1=61_500.0, t_start=2.0, t_end=4.0, dt=1.0, n=5)
    assert c.tolist() == [68_000.0, 68_000.0, 68_000.0, 64_750.0, 61_500.0, 61_500.0]
    g = gap(s0=68_000.0, s1=60_000.0, t_gap=3.0, dt=1.0, n=4)
    assert g.tolist() == [68_000.0] * 3 + [60_000.0] * 2


def test_wick_changes_last_not_mark():
    base = PricePath.from_mark(np.arange(6.0), np.full(6, 100.0))
    w = with_last_wick(base, t_start=2.0, duration=2.0, price=60.0)
    assert w.mark.tolist() == [100.0] * 6
    assert w.last.tolist() == [100.0, 100.0, 60.0, 60.0, 100.0, 100.0]


def test_path_is_frozen_and_validated():
    p = path_from_points([0, 1], [100, 90])
    with pytest.raises(ValueError):
        p.mark[0] = 5.0
    with pytest.raises(InvalidInputError, match="times must increase strictly"):
        PricePath(t=[0, 0], mark=[1, 1], last=[1, 1])
    with pytest.raises(InvalidInputError, match=r"path\.mark: prices must be > 0"):
        PricePath(t=[0, 1], mark=[1, -1], last=[1, 1])
    with pytest.raises(InvalidInputError, match="one length"):
        PricePath(t=[0, 1], mark=[1, 1], last=[1])


def test_points_interpolated_on_a_grid():
    # 0 -> 100, 10 -> 90 at dt 4: grid 0, 4, 8 and the end point 10; 100 - 4 = 96, 92, 90
    p = path_from_points([0, 10], [100, 90], dt=4)
    assert p.t.tolist() == [0.0, 4.0, 8.0, 10.0]
    assert p.mark.tolist() == pytest.approx([100.0, 96.0, 92.0, 90.0])


def test_mark_from_index_damps_a_wick():
    # index flat 100, last wicks to 40 for one second; 60 s window -> basis average -60/60 = -1
    t = np.arange(0.0, 200.0)
    index = np.full(t.size, 100.0)
    last = index.copy()
    last[70] = 40.0
    p = mark_from_index(t, index, last, window_s=60.0)
    assert p.mark.min() == pytest.approx(99.0)
    assert p.last.min() == 40.0
    # after the window has passed the mark is back on the index
    assert p.mark[-1] == 100.0


def test_mark_from_index_follows_a_real_move():
    # a persistent basis of +5 shows fully once the window has filled
    t = np.arange(0.0, 30.0)
    p = mark_from_index(t, np.full(30, 100.0), np.full(30, 105.0), window_s=10.0)
    assert p.mark[-1] == pytest.approx(105.0)


def test_read_price_csv_timestamp_price():
    p = read_price_csv(CSV / "prices_ok.csv")
    assert p.t.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert p.last.tolist() == [100.0, 101.5, 99.0, 98.25]
    assert np.array_equal(p.mark, p.last)


def test_read_price_csv_ohlc_expands_bars():
    p = read_price_csv(CSV / "ohlc_ok.csv")
    assert len(p) == 12
    # first bar rises (104 > 100): open, low, high, close at t, t+15, t+30, t+45 (60 s bars)
    assert p.last[:4].tolist() == [100.0, 98.0, 105.0, 104.0]
    assert (p.t[1] - p.t[0]) == 15.0
    # second bar falls: open, high, low, close
    assert p.last[4:8].tolist() == [104.0, 106.0, 95.0, 96.0]


@pytest.mark.parametrize(("name", "needle"), [
    ("bad_price_line4.csv", "line 4: price 'abc' is not a number"),
    ("bad_ohlc_line3.csv", "line 3: high 103 and low 95 must bracket"),
    ("bad_order_line4.csv", "line 4: timestamp '5' is not after"),
    ("bad_header.csv", "line 1: the header (2 columns) is not"),
])
def test_read_price_csv_names_the_bad_line(name, needle):
    with pytest.raises(InvalidInputError) as err:
        read_price_csv(CSV / name)
    assert needle in str(err.value)
    assert name in str(err.value)


def test_read_price_csv_from_stream_and_empty():
    p = read_price_csv(io.StringIO("Timestamp,Price\n1,5\n2,6\n"))
    assert p.last.tolist() == [5.0, 6.0]
    with pytest.raises(InvalidInputError, match="no data rows"):
        read_price_csv(io.StringIO("timestamp,price\n"))
    with pytest.raises(InvalidInputError, match="must be a finite number > 0"):
        read_price_csv(io.StringIO("timestamp,price\n1,-5\n"))


def test_a_generator_streams_chunks_that_join_into_one_path():
    # chunk k starts at the last price of chunk k-1; with one Generator seeded 11 the joined chunks
    # equal one path drawn from a fresh Generator seeded 11 (the same normals in the same order)
    rng = np.random.default_rng(11)
    a = gbm_path(s0=100.0, mu=0.0, sigma=0.3, dt=0.1, n=5, seed=rng)
    b = gbm_path(s0=float(a[-1]), mu=0.0, sigma=0.3, dt=0.1, n=5, seed=rng)
    whole = gbm_path(s0=100.0, mu=0.0, sigma=0.3, dt=0.1, n=10, seed=np.random.default_rng(11))
    assert np.allclose(np.concatenate([a, b[1:]]), whole, rtol=1e-12)


def test_a_file_that_is_not_a_price_csv_is_never_read_out(tmp_path):
    # issue 10: a CSV path in a scenario may point anywhere (../../etc/passwd): the error must not
    # echo the file's first line
    secret = tmp_path / "passwd"
    secret.write_text("admin:x:0:0:hunter2-line:/home/admin:/bin/bash\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as ei:
        read_price_csv(secret)
    text = str(ei.value).replace(str(secret), "")
    assert "hunter2" not in text and "admin" not in text and "not a price CSV" in text
    for bad in ("/dev/zero", str(tmp_path)):
        with pytest.raises(InvalidInputError, match="not a regular file"):
            read_price_csv(bad)


def test_a_csv_field_over_the_csv_limit_is_one_line(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("timestamp,price\n0," + "1" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as ei:
        read_price_csv(big)
    assert "line 2" in str(ei.value) and "not a CSV row" in str(ei.value) and "111111" not in str(ei.value)

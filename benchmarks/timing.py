"""Timing shared by the benchmarks: every figure is the best of several repeats."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls of ``fn``, in seconds (the least disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_cpu_interleaved(fns: Mapping[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Shortest CPU time of each function over ``rounds`` rounds that call them in turn, in seconds.

    For ratios between functions on a machine shared with other work: the CPU time of this thread
    leaves out the time other processes hold the core, and taking turns puts each burst of
    contention (cache, memory bus) on every function alike.
    """
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.thread_time()
            fn()
            best[name] = min(best[name], time.thread_time() - t0)
    return best

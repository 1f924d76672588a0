"""The one stopwatch the benchmarks share."""

import time


def timed(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)``; return ``(its result, wall seconds)``."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start

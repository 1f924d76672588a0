"""Thread-count handling for fits and inference on shared machines and clusters.

torch's intra-op thread count is one setting per process. Under joblib's
loky backend each worker already starts with ``cpu_count // n_jobs`` threads,
and a dask nanny starts its workers with one (``OMP_NUM_THREADS=1``), so the
default is to leave the setting alone. ``n_threads=k`` uses ``k`` threads for
the duration of one call and gives the caller's setting back afterwards.
"""

from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch threads (None: leave as it is)."""
    if n_threads is None or n_threads == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

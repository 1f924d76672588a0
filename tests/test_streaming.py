"""Data larger than memory: partial_fit, and fit / inference streamed from
memmaps, zarr arrays, h5py datasets and dask arrays in row chunks."""

import pickle
import re
import sys

import numpy as np
import pytest
import sklearn.utils.validation
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
)
from sk_autoencoder._data import import_optional
from sk_autoencoder.networks import MLPNetwork

da = pytest.importorskip("dask.array", reason="dask is in the test extra")
zarr = pytest.importorskip("zarr", reason="zarr is in the test extra")
h5py = pytest.importorskip("h5py", reason="h5py is in the test extra")

ESTIMATORS = [
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
    AutoencoderOutlierDetector,
]
SMALL = dict(network=MLPNetwork((32,)), random_state=0)


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:300] / 16.0).astype(np.float32)


def _outputs(est, X):
    """Everything a fitted estimator computes per sample, as NumPy arrays."""
    out = [np.asarray(est.score_samples(X))]
    if hasattr(est, "transform"):
        Z = np.asarray(est.transform(X))
        out += [Z, np.asarray(est.inverse_transform(Z))]
    else:
        out += [np.asarray(est.decision_function(X)), np.asarray(est.predict(X))]
    return out


def _sources(X, tmp_path, chunk_rows):
    """The same data as a memmap, a zarr array, an h5py dataset and a dask array."""
    path = tmp_path / "X.npy"
    np.save(path, X)
    h5 = h5py.File(tmp_path / "X.h5", "w")
    return {
        "memmap": np.load(path, mmap_mode="r"),
        "zarr": zarr.array(X, chunks=(chunk_rows, X.shape[1])),
        "h5py": h5.create_dataset("X", data=X, chunks=(chunk_rows, X.shape[1])),
        "dask": da.from_array(X, chunks=(chunk_rows, X.shape[1])),
    }


@pytest.fixture
def no_whole_check_array(monkeypatch):
    """Fail if sklearn's check_array is ever given an out-of-core array."""
    check_array = sklearn.utils.validation.check_array

    def guarded(array, *args, **kwargs):
        module = type(array).__module__.split(".")[0]
        if isinstance(array, np.memmap) or module in ("dask", "zarr", "h5py"):
            raise AssertionError(f"check_array called on the whole {type(array).__name__}")
        return check_array(array, *args, **kwargs)

    monkeypatch.setattr(sklearn.utils.validation, "check_array", guarded)


# -- partial_fit ---------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_continues_module_and_optimizer(Estimator, X):
    """Check that each call is one pass over the chunk, continuing Adam's state."""
    est = Estimator(batch_size=50, **SMALL)
    est.partial_fit(X[:100])
    assert est.n_features_in_ == 64 and est.n_iter_ == 1 and est.batch_size_ == 50
    first_weights = {k: v.clone() for k, v in est.net_.module_.state_dict().items()}
    est.partial_fit(X[100:250])
    steps = {int(s["step"]) for s in est.net_.optimizer_.state.values()}
    assert steps == {2 + 3}  # 100 rows then 150 rows, in batches of 50
    assert est.n_iter_ == len(est.loss_curve_) == 2
    assert est.best_loss_ == min(est.loss_curve_)
    assert any(
        not np.array_equal(first_weights[k], v) for k, v in est.net_.module_.state_dict().items()
    )
    msg = f"X has 10 features, but {Estimator.__name__} is expecting 64 features as input."
    with pytest.raises(ValueError, match=re.escape(msg)):
        est.partial_fit(X[:20, :10])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_sequence_is_reproducible_across_pickling(Estimator, X):
    """Check bitwise reproducibility of a seeded sequence, with a pickle in between."""
    params = dict(SMALL, network=MLPNetwork((32,), dropout=0.1))
    a = Estimator(**params)
    b = Estimator(**params)
    for chunk in np.array_split(X, 3):
        a.partial_fit(chunk)
        b = pickle.loads(pickle.dumps(b)).partial_fit(chunk)
    for left, right in zip(_outputs(a, X), _outputs(b, X), strict=True):
        assert_array_equal(left, right)


def test_fit_after_partial_fit_starts_afresh(X):
    """Check that fit discards what partial_fit learnt."""
    ae = AutoencoderTransformer(max_iter=3, **SMALL)
    ae.partial_fit(X[:100]).partial_fit(X[100:])
    ae.fit(X)
    fresh = clone(ae).fit(X)
    assert ae.n_iter_ == 3
    assert_array_equal(ae.transform(X), fresh.transform(X))


def test_partial_fit_after_fit_continues_the_fitted_model(X):
    """Check that partial_fit continues a fitted model and its optimizer state."""
    ae = AutoencoderTransformer(max_iter=3, batch_size=100, **SMALL).fit(X)
    before = ae.score(X)
    ae.partial_fit(X)
    assert ae.n_iter_ == 4 and len(ae.loss_curve_) == 4
    steps = {int(s["step"]) for s in ae.net_.optimizer_.state.values()}
    assert steps == {4 * 3}
    assert ae.score(X) > before


def test_failed_partial_fit_rolls_back(X):
    """Check that a diverging partial_fit call leaves the model as it was."""
    ae = AutoencoderTransformer(**SMALL).partial_fit(X)
    reference = pickle.loads(pickle.dumps(ae))
    with pytest.raises(ValueError, match="Training diverged"):
        ae.partial_fit(X * np.float32(1e18))
    assert ae.n_iter_ == 1 and len(ae.net_.history) == 1
    for left, right in zip(
        _outputs(ae.partial_fit(X), X), _outputs(reference.partial_fit(X), X), strict=True
    ):
        assert_array_equal(left, right)


def test_detector_threshold_follows_the_last_chunk(X):
    """Check that partial_fit sets the threshold from the last chunk's scores."""
    det = AutoencoderOutlierDetector(contamination=0.1, **SMALL)
    det.partial_fit(X[:150]).partial_fit(X[150:])
    scores = det.score_samples(X[150:])
    assert det.offset_ == pytest.approx(np.percentile(scores, 10.0), rel=1e-12)
    assert (det.predict(X[150:]) == -1).sum() == 15


def test_batch_norm_refuses_a_one_row_chunk(X):
    """Check that batch norm cannot be given a one-row partial_fit chunk."""
    ae = AutoencoderTransformer(**SMALL).partial_fit(X[:50])
    msg = "MLPNetwork(batch_norm=True) needs at least 2 samples to train; got n_samples=1."
    with pytest.raises(ValueError, match=re.escape(msg)):
        ae.partial_fit(X[:1])


# -- streamed fit ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memmap", "zarr", "h5py", "dask"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("early_stopping", [False, True])
def test_one_chunk_stream_equals_in_memory_fit(
    Estimator, kind, early_stopping, X, tmp_path, no_whole_check_array
):
    """Check that a stream read as one chunk trains exactly the in-memory model."""
    params = dict(max_iter=3, batch_size=64, early_stopping=early_stopping, **SMALL)
    source = _sources(X, tmp_path, chunk_rows=100)[kind]
    streamed = Estimator(chunk_size=len(X), **params).fit(source)
    in_memory = Estimator(**params).fit(X)
    assert streamed.loss_curve_ == in_memory.loss_curve_
    assert streamed.validation_scores_ == in_memory.validation_scores_
    for left, right in zip(_outputs(streamed, X), _outputs(in_memory, X), strict=True):
        assert_array_equal(left, right)


@pytest.mark.parametrize("kind", ["memmap", "zarr", "h5py", "dask"])
def test_chunked_stream_trains_as_well(kind, X, tmp_path, no_whole_check_array):
    """Check a many-chunk streamed fit: reproducible, and as good as in memory."""
    params = dict(max_iter=40, batch_size=32, early_stopping=True, **SMALL)
    source = _sources(X, tmp_path, chunk_rows=25)[kind]
    a = AutoencoderTransformer(chunk_size=25, **params).fit(source)
    b = AutoencoderTransformer(chunk_size=25, **params).fit(source)
    assert_array_equal(a.transform(X), b.transform(X))
    in_memory = AutoencoderTransformer(**params).fit(X)
    assert a.n_features_in_ == 64 and a.batch_size_ == 32
    assert -a.score(X) == pytest.approx(-in_memory.score(X), rel=0.15)


def test_stream_chunk_order_and_rows_are_shuffled(X, tmp_path):
    """Check that the buffer shuffle mixes rows across chunks and epochs."""
    from sk_autoencoder._data import ChunkedArray, StreamBatchIterator, StreamData

    rows = np.arange(100, dtype=np.float32)[:, None]
    import torch

    data = StreamData(ChunkedArray(rows, chunk_rows=10))
    iterator = StreamBatchIterator(data, 8, torch.Generator().manual_seed(0), buffer_chunks=2)
    epochs = [np.concatenate([b[0].numpy().ravel() for b in iterator]) for _ in range(2)]
    assert len(iterator) == 13
    for seen in epochs:
        assert sorted(seen) == list(range(100))
        assert not np.array_equal(seen, np.sort(seen))
    assert not np.array_equal(epochs[0], epochs[1])
    # Batches are full except the last, and a buffer never spans more than
    # two chunks plus the carried-over rows.
    sizes = [len(b[0]) for b in iterator]
    assert sizes == [8] * 12 + [4]


@pytest.mark.parametrize("kind", ["memmap", "zarr", "h5py", "dask"])
def test_bad_value_in_a_later_chunk_names_its_row(kind, X, tmp_path):
    """Check that a NaN is reported with its row when its chunk is read."""
    bad = X.copy()
    bad[57, 3] = np.nan
    source = _sources(bad, tmp_path, chunk_rows=20)[kind]
    ae = AutoencoderTransformer(chunk_size=20, max_iter=2, **SMALL)
    msg = "Input X contains NaN in row 57 (read in the chunk of rows 40 to 59)."
    with pytest.raises(ValueError, match=re.escape(msg)):
        ae.fit(source)
    fitted = AutoencoderTransformer(chunk_size=20, **SMALL).fit(X)
    with pytest.raises(ValueError, match=re.escape(msg)):
        np.asarray(fitted.transform(source))  # dask raises when computed


def test_streamed_value_checks_name_the_chunk(X, tmp_path):
    """Check that BCE's range check runs per chunk and names the rows."""
    scaled = X * 2
    source = _sources(scaled, tmp_path, chunk_rows=50)["memmap"]
    ae = AutoencoderTransformer(
        chunk_size=50, loss="bce", output_activation="sigmoid", init="random"
    )
    msg = "loss='bce' requires X in [0, 1], got values in [0, 2] (in the chunk of rows"
    with pytest.raises(ValueError, match=re.escape(msg)):
        ae.fit(source)


# -- streamed inference --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memmap", "zarr", "h5py"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_chunked_inference_equals_in_memory(Estimator, kind, X, tmp_path, no_whole_check_array):
    """Check that every inference method reads chunks and gives the in-memory result."""
    est = Estimator(max_iter=2, **SMALL).fit(X)
    est.set_params(chunk_size=40)
    source = _sources(X, tmp_path, chunk_rows=40)[kind]
    for left, right in zip(_outputs(est, source), _outputs(est, X), strict=True):
        assert isinstance(left, np.ndarray) and left.dtype == right.dtype
        assert_allclose(left, right, rtol=1e-6, atol=1e-7)
    if hasattr(est, "score"):
        assert est.score(source) == pytest.approx(est.score(X), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_dask_in_dask_out(Estimator, dtype, X, no_whole_check_array):
    """Check lazy dask output: aligned chunks, preserved dtype, in-memory values."""
    est = Estimator(max_iter=2, **SMALL).fit(X)
    X = X.astype(dtype)
    Xd = da.from_array(X, chunks=(70, 32))
    scores = est.score_samples(Xd)
    assert isinstance(scores, da.Array) and scores.chunks == (Xd.chunks[0],)
    assert_allclose(scores.compute(), est.score_samples(X), rtol=1e-6, atol=1e-9)
    if hasattr(est, "transform"):
        Z = est.transform(Xd)
        assert isinstance(Z, da.Array) and Z.dtype == dtype
        assert Z.chunks == (Xd.chunks[0], (est.n_components_,))
        assert_allclose(Z.compute(), est.transform(X), rtol=1e-6, atol=1e-7)
        X_hat = est.inverse_transform(Z)
        assert isinstance(X_hat, da.Array) and X_hat.dtype == dtype
        # Blocks of other sizes: float64 agrees to rounding, float32 to float32's.
        assert_allclose(
            X_hat.compute(), est.inverse_transform(est.transform(X)), rtol=1e-6, atol=1e-7
        )
    else:
        labels = est.predict(Xd)
        assert isinstance(labels, da.Array)
        assert_array_equal(labels.compute(), est.predict(X))
    if hasattr(est, "score"):
        assert est.score(Xd) == pytest.approx(est.score(X), rel=1e-6)


def test_dask_graph_holds_the_model_once(X):
    """Check that the model is one graph node that every block depends on."""
    ae = AutoencoderTransformer(max_iter=2, **SMALL).fit(X)
    Z = ae.transform(da.from_array(X, chunks=(30, 64)))
    graph = dict(Z.__dask_graph__())
    models = [k for k, v in graph.items() if isinstance(k, str) and "AutoencoderTransformer" in k]
    assert len(models) == 1
    assert Z.numblocks == (10, 1)


def test_missing_extra_names_it(monkeypatch):
    """Check that a missing optional dependency names the extra to install."""
    monkeypatch.setitem(sys.modules, "zarr", None)
    msg = (
        "zarr is needed for this and is not installed; install it with "
        'pip install "sk-autoencoder[scale]".'
    )
    with pytest.raises(ImportError, match=re.escape(msg)):
        import_optional("zarr", "scale")


def test_interrupted_partial_fit_rolls_back(X, interrupt_at, monkeypatch):
    """Check that Ctrl-C inside a partial_fit call propagates and undoes the call."""
    ae = AutoencoderTransformer(batch_size=50, **SMALL).partial_fit(X)
    reference = pickle.loads(pickle.dumps(ae))
    interrupt_at(3)
    with pytest.raises(KeyboardInterrupt):
        ae.partial_fit(X)
    monkeypatch.undo()
    assert ae.n_iter_ == 1 and len(ae.net_.history) == 1
    for left, right in zip(
        _outputs(ae.partial_fit(X), X), _outputs(reference.partial_fit(X), X), strict=True
    ):
        assert_array_equal(left, right)

"""Behaviour of AutoencoderTransformer beyond scikit-learn's generic checks."""

import io
import pickle
import re
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
    _net,
)
from sk_autoencoder.networks import MLPNetwork


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    return AutoencoderTransformer(n_components=4, max_iter=15, random_state=0).fit(X)


@pytest.mark.parametrize(
    "dtype, expected", [(np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64)]
)
def test_output_shapes_and_dtypes(digits, dtype, expected):
    """Check that codes and reconstructions have the right shape and dtype."""
    X = (digits[0][:200] * 16).astype(dtype)
    ae = AutoencoderTransformer(n_components=3, max_iter=3, random_state=0)
    Z = ae.fit_transform(X)
    assert Z.shape == (200, 3)
    assert Z.dtype == expected
    X_hat = ae.inverse_transform(Z)
    assert X_hat.shape == (200, 64)
    assert X_hat.dtype == expected
    assert ae.n_features_in_ == 64
    assert ae.batch_size_ == 64
    assert ae.device_ == "cpu"


def test_float64_matches_float32_computation(fitted, digits):
    """Check that float64 inference agrees with float32 to float32 precision."""
    X = digits[0][:100]
    assert_allclose(
        fitted.transform(X.astype(np.float64)), fitted.transform(X), rtol=1e-4, atol=1e-5
    )


def test_score_is_minus_mean_squared_reconstruction_error(fitted, digits):
    """Check score and score_samples against a hand computation."""
    X = digits[0][:300].astype(np.float64)
    X_hat = fitted.inverse_transform(fitted.transform(X))
    per_sample = ((X - X_hat) ** 2).mean(axis=1)
    assert_allclose(fitted.score_samples(X), -per_sample, rtol=1e-12)
    assert fitted.score(X) == pytest.approx(-per_sample.mean(), rel=1e-12)


def test_encoder_and_decoder_are_reusable_torch_modules(fitted, digits):
    """Check that net_.module_.encoder/decoder reproduce transform/inverse_transform."""
    X = digits[0][:50]
    module = fitted.net_.module_
    with torch.no_grad():
        Z = module.encoder(torch.from_numpy(X)).numpy()
        X_hat = module.decoder(torch.from_numpy(Z)).numpy()
    assert_allclose(fitted.transform(X), Z, rtol=1e-6, atol=1e-6)
    assert_allclose(fitted.inverse_transform(Z), X_hat, rtol=1e-6, atol=1e-6)
    assert Z.shape == (50, 4) and X_hat.shape == (50, 64)


def test_same_seed_is_bitwise_reproducible(digits):
    """Check that two fits with the same random_state give identical codes."""
    X = digits[0][:300]
    params = dict(n_components=3, max_iter=5, network=MLPNetwork(dropout=0.1), random_state=42)
    Z1 = AutoencoderTransformer(**params).fit_transform(X)
    Z2 = AutoencoderTransformer(**params).fit_transform(X)
    Z3 = AutoencoderTransformer(**{**params, "random_state": 43}).fit_transform(X)
    assert_array_equal(Z1, Z2)
    assert not np.array_equal(Z1, Z3)


def test_same_seed_is_bitwise_reproducible_across_processes():
    """Check that separate processes produce identical codes for one seed."""
    script = textwrap.dedent(
        """
        import hashlib
        from sklearn.datasets import load_digits
        from sk_autoencoder import AutoencoderTransformer
        X = load_digits().data[:300] / 16
        Z = AutoencoderTransformer(3, max_iter=5, random_state=7).fit_transform(X)
        print(hashlib.sha256(Z.tobytes()).hexdigest())
        """
    )
    digests = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert re.fullmatch("[0-9a-f]{64}", digests[0])
    assert digests[0] == digests[1]


def test_fit_leaves_global_torch_rng_untouched(digits):
    """Check that fitting does not consume or reseed torch's global generator."""
    torch.manual_seed(123)
    before = torch.get_rng_state()
    AutoencoderTransformer(max_iter=2, network=MLPNetwork(dropout=0.2), random_state=0).fit(
        digits[0][:100]
    )
    assert torch.equal(before, torch.get_rng_state())
    AutoencoderTransformer(max_iter=2).fit(digits[0][:100])
    assert torch.equal(before, torch.get_rng_state())


def _fit_and_count_threads(X):
    AutoencoderTransformer(max_iter=2, random_state=0).fit(X)
    return torch.get_num_threads()


def test_threads_are_left_to_torch_and_joblib(digits):
    """Check that fit keeps torch's thread count, so joblib workers stay at one each."""
    X = digits[0][:100]
    before = torch.get_num_threads()
    assert _fit_and_count_threads(X) == before
    counts = joblib.Parallel(n_jobs=2)(joblib.delayed(_fit_and_count_threads)(X) for _ in range(2))
    # loky caps each worker at cpu_count // n_jobs threads; fit must keep that.
    assert counts == [max(1, joblib.cpu_count() // 2)] * 2


def test_y_is_ignored(digits):
    """Check that passing labels changes nothing."""
    X, y = digits[0][:200], digits[1][:200]
    ae = AutoencoderTransformer(max_iter=3, random_state=0)
    assert_array_equal(ae.fit_transform(X), clone(ae).fit(X, y).transform(X))


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "Input X contains NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "Input X contains infinity"),
        (np.empty((0, 3)), "Found array with 0 sample"),
        (np.empty((3, 0)), "Found array with 0 feature"),
        (np.array([[1 + 1j, 2.0]]), "Complex data not supported"),
        (np.array([1.0, 2.0, 3.0]), "Expected 2D array, got 1D array"),
        (np.array([[1e39, 0.0], [0.0, 1.0]]), "beyond the float32 range"),
    ],
)
def test_bad_input_raises_value_error(X, message):
    """Check that malformed data fail with a ValueError naming the problem."""
    with pytest.raises(ValueError, match=re.escape(message)):
        AutoencoderTransformer(max_iter=1).fit(X)


def test_sparse_input_is_refused():
    """Check that sparse input gets a clear TypeError."""
    X = sp.random(20, 5, density=0.3, format="csr", random_state=0)
    with pytest.raises(TypeError, match="Sparse data was passed for X, but dense data is required"):
        AutoencoderTransformer(max_iter=1).fit(X)


def test_wrong_number_of_features(fitted, digits):
    """Check the messages for wrong widths at transform and inverse_transform."""
    msg = "X has 10 features, but AutoencoderTransformer is expecting 64 features as input"
    with pytest.raises(ValueError, match=msg):
        fitted.transform(digits[0][:5, :10])
    msg = "X has 3 features, but inverse_transform expects 4 (the fitted n_components_)."
    with pytest.raises(ValueError, match=re.escape(msg)):
        fitted.inverse_transform(np.zeros((5, 3)))


def test_bce_requires_data_in_unit_interval(digits):
    """Check that BCE refuses data outside [0, 1] and a non-sigmoid output."""
    X = digits[0][:100]
    bce = AutoencoderTransformer(loss="bce", output_activation="sigmoid", max_iter=2)
    msg = "loss='bce' requires X in [0, 1], got values in [-1, 1]"
    with pytest.raises(ValueError, match=re.escape(msg)):
        bce.fit(X * 2 - 1)
    msg = "loss='bce' needs output_activation='sigmoid', got output_activation='identity'."
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(loss="bce", max_iter=2).fit(X)


def test_bce_trains_on_unit_interval_data(digits):
    """Check that BCE fits pixel data and reconstructions stay inside (0, 1)."""
    X = digits[0][:500]
    ae = AutoencoderTransformer(
        8, loss="bce", output_activation="sigmoid", init="random", max_iter=20, random_state=0
    ).fit(X)
    X_hat = ae.inverse_transform(ae.transform(X))
    assert X_hat.min() >= 0.0 and X_hat.max() <= 1.0
    assert ae.loss_curve_[-1] < 0.75 * ae.loss_curve_[0]


@pytest.mark.parametrize("sizes", [(0,), (8, -1), (2.5,)])
def test_bad_hidden_layer_sizes(sizes, digits):
    """Check that non-positive or non-integer widths are refused by name."""
    msg = f"hidden_layer_sizes must contain positive integers, got {sizes!r}."
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(network=MLPNetwork(sizes), max_iter=1).fit(digits[0][:20])


def test_batch_norm_needs_two_samples():
    """Check that batch norm on a single sample is refused with its reason."""
    with pytest.raises(ValueError, match=re.escape("MLPNetwork(batch_norm=True) needs at least")):
        AutoencoderTransformer(early_stopping=False, max_iter=1).fit(np.ones((1, 3)))


def test_divergence_raises_instead_of_returning_nan(digits):
    """Check that a learning rate that blows up training is reported."""
    X = digits[0][:200] * 1e6
    ae = AutoencoderTransformer(
        learning_rate_init=1e4,
        max_iter=50,
        random_state=0,
        init="random",
        early_stopping=False,
        network=MLPNetwork(activation="relu", batch_norm=False),
    )
    msg = "Training diverged: the training loss became"
    with pytest.raises(ValueError, match=msg) as excinfo:
        ae.fit(X)
    assert "Lower learning_rate_init (now 10000.0)" in str(excinfo.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the error is for CUDA-less machines")
def test_cuda_without_gpu_is_refused(digits):
    """Check that device='cuda' fails clearly where CUDA is missing."""
    with pytest.raises(ValueError, match="device='cuda' but torch.cuda.is_available"):
        AutoencoderTransformer(device="cuda", max_iter=1).fit(digits[0][:20])


def test_device_auto_resolves(digits):
    """Check that device='auto' picks the available device."""
    ae = AutoencoderTransformer(device="auto", max_iter=1).fit(digits[0][:20])
    assert ae.device_ == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_round_trip_is_bitwise(fitted, digits, dump):
    """Check that a pickled or joblib-dumped model encodes identically."""
    X = digits[0][:100]
    if dump == "pickle":
        restored = pickle.loads(pickle.dumps(fitted))
    else:
        buffer = io.BytesIO()
        joblib.dump(fitted, buffer)
        buffer.seek(0)
        restored = joblib.load(buffer)
    assert_array_equal(restored.transform(X), fitted.transform(X))
    assert_array_equal(
        restored.transform(X.astype(np.float64)), fitted.transform(X.astype(np.float64))
    )


def test_clone_of_fitted_is_unfitted(fitted, digits):
    """Check that clone drops the fitted state but keeps parameters."""
    cloned = clone(fitted)
    assert cloned.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        cloned.transform(digits[0][:5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_runs_in_bounded_batches(fitted, digits, monkeypatch, dtype):
    """Check that inference is chunked and that chunking leaves codes unchanged."""
    X = np.tile(digits[0], (2, 1)).astype(dtype)
    full = fitted.transform(X)
    rows_seen = []
    hook = fitted.net_.module_.encoder.register_forward_hook(
        lambda module, args, out: rows_seen.append(args[0].shape[0])
    )
    try:
        # The widest layer has 256 units (the default), so this allows 100
        # rows per chunk.
        assert fitted.network_.hidden_sizes() == (256,)
        monkeypatch.setattr(_net, "_INFERENCE_ELEMENTS", 256 * 100)
        chunked = fitted.transform(X)
    finally:
        hook.remove()
    assert max(rows_seen) == 100
    assert sum(rows_seen) == len(X)
    # float64 callers are computed in float64, so chunking is invisible to
    # them; float32 matrix products may differ in the last bits by batch size.
    atol = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(chunked, full, rtol=0, atol=atol)


def test_identity_autoencoder_matches_pca():
    """Check that a linear autoencoder reaches PCA's held-out error.

    A linear autoencoder's global minimum spans the principal subspace
    (Baldi & Hornik, 1989), so only optimisation separates it from PCA; on
    noisy rank-5 data a 2 % margin allows for Adam's last steps in float32.
    """
    rng = np.random.RandomState(0)
    X = rng.randn(1200, 5) @ rng.randn(5, 20) + 0.1 * rng.randn(1200, 20)
    X_train, X_test = X[:1000], X[1000:]
    pca = PCA(n_components=3).fit(X_train)
    pca_error = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    ae = AutoencoderTransformer(
        n_components=3,
        network=MLPNetwork((), activation="identity"),
        learning_rate_init=1e-2,
        max_iter=300,
        tol=0,
        n_iter_no_change=300,
        random_state=0,
    ).fit(X_train)
    ae_error = -ae.score(X_test)
    assert ae_error == pytest.approx(pca_error, rel=0.02)


def test_beats_pca_on_digits(digits):
    """Check that the default non-linear autoencoder beats PCA on held-out digits."""
    X, _ = digits
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    pca = PCA(n_components=8).fit(X_train)
    pca_error = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    ae = AutoencoderTransformer(n_components=8, max_iter=60, random_state=0).fit(X_train)
    assert -ae.score(X_test) < 0.75 * pca_error


def test_pipeline_and_supervised_grid_search(digits):
    """Check the autoencoder as a feature step searched through a classifier."""
    X, y = digits
    pipe = make_pipeline(
        StandardScaler(),
        AutoencoderTransformer(max_iter=20, random_state=0),
        LogisticRegression(max_iter=500),
    )
    search = GridSearchCV(
        pipe, {"autoencodertransformer__n_components": [2, 16]}, cv=3, n_jobs=2
    ).fit(X, y)
    assert search.best_params_ == {"autoencodertransformer__n_components": 16}
    assert search.best_score_ > 0.85


def test_unsupervised_grid_search_uses_score(digits):
    """Check that GridSearchCV without labels ranks by reconstruction error."""
    X = digits[0]
    search = GridSearchCV(
        AutoencoderTransformer(max_iter=15, random_state=0),
        {"n_components": [2, 12]},
        cv=3,
        n_jobs=2,
    ).fit(X)
    assert search.best_params_ == {"n_components": 12}
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0] and scores.max() < 0


def test_set_output_pandas(fitted, digits):
    """Check pandas output and feature names."""
    pd = pytest.importorskip("pandas", reason="pandas is in the test extra")
    frame = pd.DataFrame(digits[0][:10], columns=[f"px{i}" for i in range(64)])
    ae = clone(fitted).set_output(transform="pandas").fit(frame)
    Z = ae.transform(frame)
    assert list(Z.columns) == [f"autoencodertransformer{i}" for i in range(4)]
    assert list(ae.feature_names_in_) == list(frame.columns)
    assert Z.shape == (10, 4)


def test_early_stopping_records_validation_and_restores_best(digits):
    """Check early stopping's attributes and that the best weights come back."""
    X = digits[0][:600]
    ae = AutoencoderTransformer(
        early_stopping=True, n_iter_no_change=3, tol=0.0, max_iter=200, random_state=0
    ).fit(X)
    assert len(ae.validation_scores_) == ae.n_iter_ == len(ae.loss_curve_)
    assert ae.best_validation_score_ == max(ae.validation_scores_)
    assert ae.best_loss_ == pytest.approx(-ae.best_validation_score_)
    assert ae.n_iter_ < 200
    # The restored weights reproduce the best validation loss.
    _, valid = ae.net_.get_split_datasets(X)
    X_valid = X[valid.indices]
    valid_error = np.mean((ae.inverse_transform(ae.transform(X_valid)) - X_valid) ** 2)
    assert valid_error == pytest.approx(ae.best_loss_, rel=1e-5)
    assert ae.net_.history[-1, "epoch"] == ae.n_iter_


def test_training_loss_stopping_and_convergence_warning(digits):
    """Check tol/n_iter_no_change on the training loss and the warning at max_iter.

    Only a fit stopped short warns: a constant rate reaching max_iter; the
    default cosine schedule is planned to end there (tests/test_training.py).
    """
    X = digits[0][:300]
    with pytest.warns(ConvergenceWarning, match="stopped at max_iter=3 epochs"):
        ae = AutoencoderTransformer(
            max_iter=3,
            learning_rate="constant",
            random_state=0,
            init="random",
            early_stopping=False,
            network=MLPNetwork(activation="relu", batch_norm=False),
        ).fit(X)
    assert ae.n_iter_ == 3 and ae.validation_scores_ is None
    ae = AutoencoderTransformer(
        max_iter=500,
        tol=1e-2,
        n_iter_no_change=2,
        random_state=0,
        init="random",
        early_stopping=False,
        network=MLPNetwork(activation="relu", batch_norm=False),
    ).fit(X)
    assert ae.n_iter_ < 500
    assert ae.best_loss_ == min(ae.loss_curve_)
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]


def test_warm_start_continues_training(digits):
    """Check that warm_start resumes from the fitted weights."""
    X = digits[0][:300]
    ae = AutoencoderTransformer(
        max_iter=5,
        warm_start=True,
        random_state=0,
        init="random",
        early_stopping=False,
        network=MLPNetwork(activation="relu", batch_norm=False),
    ).fit(X)
    first_curve = list(ae.loss_curve_)
    ae.fit(X)
    assert ae.n_iter_ == 10
    assert ae.loss_curve_[:5] == first_curve
    assert ae.loss_curve_[5] < first_curve[0]
    ae.set_params(n_components=5)
    with pytest.raises(ValueError, match="architecture changed"):
        ae.fit(X)


def test_verbose_prints_skorch_log(digits, capsys):
    """Check that verbose=1 prints skorch's epoch table and verbose=0 is silent."""
    X = digits[0][:100]
    AutoencoderTransformer(max_iter=2, verbose=0, random_state=0).fit(X)
    assert capsys.readouterr().out == ""
    AutoencoderTransformer(max_iter=2, verbose=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "train_loss" in out and "dur" in out


@pytest.mark.parametrize(
    "cls",
    [AutoencoderTransformer, VariationalAutoencoderTransformer, AutoencoderOutlierDetector],
)
def test_documented_defaults_are_the_signatures(cls):
    """Every ``name : type, default=X`` line of the docstring says the real default."""
    import ast
    import inspect

    signature = inspect.signature(cls.__init__).parameters
    lines = re.findall(r"^    (\w+) : .*, default=(.*)$", cls.__doc__, re.MULTILINE)
    assert {name for name, _ in lines} == set(signature) - {"self"}
    for name, written in lines:
        assert ast.literal_eval(written) == signature[name].default, name

"""Promises kept on odd input and odd settings: global torch state, batch norm
edge cases, fitted state after set_params, failed and interrupted fits, late
divergence, threads and torch tensors as input."""

import re
import warnings
from types import SimpleNamespace

import joblib
import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
)
from sk_autoencoder._net import KeepStartIfBest
from sk_autoencoder.networks import MLPNetwork

ESTIMATORS = [
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
    AutoencoderOutlierDetector,
]


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:240] / 16.0).astype(np.float32)


def _codes(est, X):
    """What the estimator outputs per sample: codes, or scores for the detector."""
    return est.transform(X) if hasattr(est, "transform") else est.score_samples(X)


@pytest.fixture
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_global_default_dtype_does_not_change_training(Estimator, X):
    """Check that torch.set_default_dtype(float64) leaves fits in float32 and unchanged."""
    params = dict(max_iter=3, network=MLPNetwork((16,), dropout=0.1), random_state=0)
    reference = _codes(Estimator(**params).fit(X), X)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        est = Estimator(**params).fit(X)
        codes = _codes(est, X)
    finally:
        torch.set_default_dtype(previous)
    assert {p.dtype for p in est.net_.module_.parameters()} == {torch.float32}
    assert_array_equal(codes, reference)


@pytest.mark.parametrize(
    "params, n_samples, message",
    [
        (
            dict(batch_size=1, early_stopping=False),
            10,
            "MLPNetwork(batch_norm=True) cannot train on batches of one sample, which "
            "batch_size=1 gives; use batch_size >= 2 or network=MLPNetwork(batch_norm=False).",
        ),
        (
            dict(early_stopping=True, validation_fraction=0.5),
            3,
            "MLPNetwork(batch_norm=True) needs at least 2 samples to train; early_stopping "
            "holds out validation_fraction=0.5 of n_samples=3, leaving 1 for training.",
        ),
        (
            dict(early_stopping=False),
            1,
            "MLPNetwork(batch_norm=True) needs at least 2 samples to train; got n_samples=1.",
        ),
    ],
)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_batch_norm_refuses_one_row_batches(Estimator, X, params, n_samples, message):
    """Check that every path to a one-row training batch is refused by name."""
    est = Estimator(network=MLPNetwork(batch_norm=True), max_iter=1, **params)
    with pytest.raises(ValueError, match=re.escape(message)):
        est.fit(X[:n_samples])


def test_early_stopping_needs_a_training_row():
    """Check that a validation split that swallows the data is refused by name."""
    msg = (
        "early_stopping=True with validation_fraction=0.5 leaves no sample to train on "
        "out of n_samples=1"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(early_stopping=True, validation_fraction=0.5).fit(np.ones((1, 3)))


def test_batch_norm_with_trailing_single_row_trains(X):
    """Check that a trailing one-row batch is skipped rather than refused."""
    ae = AutoencoderTransformer(batch_size=4, max_iter=2, random_state=0)
    ae.fit(X[:9])  # batches of 4, 4 and a dropped 1
    assert ae.n_iter_ == 2 and np.isfinite(ae.loss_curve_).all()


def test_fitted_model_ignores_later_set_params(X):
    """Check that methods follow the fitted model, not parameters set after fit."""
    pd = pytest.importorskip("pandas", reason="pandas is in the test extra")
    ae = AutoencoderTransformer(n_components=2, max_iter=2, random_state=0).fit(X)
    codes = ae.transform(X)
    ae.set_params(n_components=5)
    assert list(ae.get_feature_names_out()) == [
        "autoencodertransformer0",
        "autoencodertransformer1",
    ]
    assert ae.inverse_transform(codes).shape == X.shape
    frame = ae.set_output(transform="pandas").transform(pd.DataFrame(X))
    assert frame.shape == (len(X), 2)
    assert list(frame.columns) == ["autoencodertransformer0", "autoencodertransformer1"]
    vae = VariationalAutoencoderTransformer(n_components=3, max_iter=2, random_state=0).fit(X)
    vae.set_params(n_components=6)
    assert vae.sample(4, random_state=0).shape == (4, 64)
    assert vae.n_components_ == 3


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VariationalAutoencoderTransformer])
def test_unfitted_feature_names_raise(Estimator):
    """Check that get_feature_names_out needs a fitted estimator."""
    with pytest.raises(NotFittedError):
        Estimator().get_feature_names_out()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_failed_refit_leaves_the_previous_model(Estimator, X):
    """Check that a refit that diverges restores the estimator as it was."""
    est = Estimator(
        max_iter=2,
        random_state=0,
        init="random",
        early_stopping=False,
        network=MLPNetwork(activation="relu", batch_norm=False),
    ).fit(X)
    before = _codes(est, X)
    attributes = {k: v for k, v in vars(est).items() if k.endswith("_")}
    wide = np.hstack([X, X]) * 1e6
    est.set_params(learning_rate_init=1e4, max_iter=30)
    with pytest.raises(ValueError, match="Training diverged"):
        est.fit(wide)
    assert {k: v for k, v in vars(est).items() if k.endswith("_")}.keys() == attributes.keys()
    assert est.n_features_in_ == 64 and est.net_ is attributes["net_"]
    assert_array_equal(_codes(est, X), before)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_failed_first_fit_leaves_an_unfitted_estimator(Estimator, X):
    """Check that a first fit that fails leaves nothing fitted behind."""
    est = Estimator(
        learning_rate_init=1e4,
        max_iter=30,
        random_state=0,
        init="random",
        early_stopping=False,
        network=MLPNetwork(activation="relu", batch_norm=False),
    )
    before = dict(vars(est))
    with pytest.raises(ValueError, match="Training diverged"):
        est.fit(X * 1e6)
    assert vars(est) == before
    with pytest.raises(NotFittedError):
        est.score_samples(X)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_interrupt_keeps_weights_and_consistent_attributes(X, interrupt_at, early_stopping):
    """Check Ctrl-C mid-fit: a warning, the weights kept, attributes counting what ran."""
    # 240 rows, 10 % held out with early stopping -> 216 or 240 rows in batches
    # of 50: 5 batches per epoch; interrupt in the 2nd batch of epoch 4.
    interrupt_at(3 * 5 + 2)
    ae = AutoencoderTransformer(
        max_iter=10,
        batch_size=50,
        random_state=0,
        init="random",
        early_stopping=early_stopping,
        network=MLPNetwork(activation="relu", batch_norm=False),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ae.fit(X)
    messages = [str(w.message) for w in caught]
    kept = "the best epoch's weights (early_stopping)" if early_stopping else "the weights so far"
    assert messages == [
        f"Training interrupted by user after 3 complete epoch(s) of max_iter=10; keeping {kept}."
    ]
    assert not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert ae.n_iter_ == len(ae.loss_curve_) == 3
    if early_stopping:
        assert len(ae.validation_scores_) == 3
    assert np.isfinite(ae.transform(X)).all()


def test_interrupt_in_first_epoch_raises_and_leaves_estimator_unfitted(X, interrupt_at):
    """Check that an interrupt before any complete epoch propagates, fitting nothing."""
    interrupt_at(2)
    ae = AutoencoderTransformer(
        max_iter=10,
        batch_size=50,
        random_state=0,
        init="random",
        early_stopping=False,
        network=MLPNetwork(activation="relu", batch_norm=False),
    )
    with pytest.raises(KeyboardInterrupt):
        ae.fit(X)
    with pytest.raises(NotFittedError):
        ae.transform(X)


def test_divergence_in_the_last_update_is_caught(X):
    """Check that weights blown up by the final step fail the fit."""
    ae = AutoencoderTransformer(
        learning_rate_init=1e38,
        max_iter=1,
        batch_size=256,
        random_state=0,
        init="random",
        early_stopping=False,
        network=MLPNetwork((512,), activation="relu", batch_norm=False),
    )
    msg = "Training diverged: the weights became non-finite at epoch 1."
    with pytest.raises(ValueError, match=re.escape(msg)):
        ae.fit(X)
    with pytest.raises(NotFittedError):
        ae.transform(X)


@pytest.mark.parametrize(
    "learning_rate_init, hidden_layer_sizes", [(1e12, (256, 128)), (1e20, (512,))]
)
def test_finite_weights_that_overflow_the_output_fail_the_fit(
    X, learning_rate_init, hidden_layer_sizes
):
    """Check that a one-batch fit whose weights stay finite but overflow raises.

    Adam's first step moves each weight by about the learning rate: the
    weights stay finite, and the epoch's loss (computed before the step) is
    finite, but the training rows' reconstructions overflow float32. Such a
    fit used to return "fitted" and fail in transform. Without a validation
    split (whose loss would catch the overflow first), and with learning
    rates far past the overflow threshold, which moves a little with the
    CPU's kernels (1e6 overflows (256, 128) on some CPUs and not others).
    """
    ae = AutoencoderTransformer(
        network=MLPNetwork(hidden_layer_sizes),
        learning_rate_init=learning_rate_init,
        max_iter=1,
        batch_size=len(X),
        early_stopping=False,
        random_state=0,
    )
    msg = (
        "Training diverged: the weights stayed finite, but the network's output on its "
        "own training data is not."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        ae.fit(X)
    with pytest.raises(NotFittedError):
        ae.transform(X)


@pytest.mark.parametrize("learning_rate_init", [1e6, 1e20])
def test_a_validation_loss_that_overflows_fails_the_fit(X, learning_rate_init):
    """Check that a non-finite validation loss raises, as a non-finite training loss does.

    One full-batch step at a huge learning rate leaves the training loss
    (computed before the step) finite and the validation loss infinite. Such
    a fit used to return the restored PCA start as if training had worked.
    """
    ae = AutoencoderTransformer(
        network=MLPNetwork((256, 128)),
        learning_rate_init=learning_rate_init,
        max_iter=1,
        batch_size=len(X),
        random_state=0,
    )
    # inf or nan, as the overflowing activations meet (inf - inf) or not.
    msg = (
        r"Training diverged: the validation loss became (inf|nan) at epoch 1\. Lower "
        + re.escape(f"learning_rate_init (now {learning_rate_init}) or scale X")
    )
    with pytest.raises(ValueError, match=msg):
        ae.fit(X)
    with pytest.raises(NotFittedError):
        ae.transform(X)


@pytest.mark.parametrize("valid", [[np.nan, 0.7], [0.7, np.nan], [np.inf, 0.7]])
def test_the_start_is_kept_when_an_epoch_has_a_non_finite_validation_loss(valid):
    """Check that NaN and inf validation losses never beat the initial weights.

    ``min`` over a list with a NaN depends on where the NaN is, and
    ``start <= nan`` is False: a NaN epoch used to keep the trained weights
    even when every finite epoch was worse than the start.
    """
    module = torch.nn.Linear(2, 2)
    start = {k: v.clone() for k, v in module.state_dict().items()}
    keep = KeepStartIfBest()
    keep.loss_, keep.weights_ = 0.5, {k: v.clone() for k, v in start.items()}
    with torch.no_grad():
        module.weight.add_(1.0)
    history = [{"epoch": i + 1, "valid_loss": v} for i, v in enumerate(valid)]
    keep.on_train_end(SimpleNamespace(history=history, module_=module))
    for key, value in start.items():
        assert_array_equal(module.state_dict()[key], value)


def test_inference_never_returns_non_finite_values_silently(X):
    """Check that overflow at inference is an error, and float64 avoids it."""
    ae = AutoencoderTransformer(max_iter=2, random_state=0).fit(X)
    huge = np.full_like(X, 3e38)
    with pytest.raises(ValueError, match="The network's output is not finite for finite input"):
        ae.transform(huge)
    assert np.isfinite(ae.transform(huge.astype(np.float64))).all()
    big_codes = np.full((3, 2), 3e38, dtype=np.float32)
    with pytest.raises(ValueError, match="The network's output is not finite for finite input"):
        ae.inverse_transform(big_codes)


def _seeded_fit(seed, X):
    params = dict(max_iter=3, network=MLPNetwork(dropout=0.2), noise="masking", noise_level=0.2)
    return AutoencoderTransformer(random_state=seed, **params).fit(X).transform(X)


@pytest.mark.parametrize(
    "Estimator, params",
    [
        (
            AutoencoderTransformer,
            dict(network=MLPNetwork(dropout=0.2), noise="gaussian", contractive=0.1),
        ),
        (VariationalAutoencoderTransformer, dict(network=MLPNetwork(dropout=0.2))),
    ],
)
def test_concurrent_seeded_fits_reproduce_serial_fits(Estimator, params, X):
    """Check that fits in threads reproduce serial fits and leave the global RNG alone."""

    def fit(seed):
        return _codes(Estimator(max_iter=3, random_state=seed, **params).fit(X), X)

    seeds = list(range(6))
    serial = [fit(seed) for seed in seeds]
    torch.manual_seed(5)
    before = torch.get_rng_state()
    threaded = joblib.Parallel(n_jobs=3, backend="threading")(
        joblib.delayed(fit)(seed) for seed in seeds
    )
    assert torch.equal(torch.get_rng_state(), before)
    for a, b in zip(serial, threaded, strict=True):
        assert_array_equal(a, b)


def test_float32_tensor_in_float32_out(X):
    """Check that torch tensors keep the float32-in, float32-out promise."""
    ae = AutoencoderTransformer(max_iter=2, random_state=0).fit(X)
    tensor = torch.from_numpy(X).requires_grad_(True)
    codes = ae.transform(tensor)
    assert codes.dtype == np.float32
    assert_array_equal(codes, ae.transform(X))
    assert ae.inverse_transform(torch.from_numpy(codes)).dtype == np.float32
    assert ae.transform(tensor.double()).dtype == np.float64
    refit = AutoencoderTransformer(max_iter=2, random_state=0).fit(torch.from_numpy(X))
    assert_array_equal(refit.transform(X), codes)


def test_fit_inside_inference_mode_is_refused_and_transform_works(X):
    """Check the message for fit under torch.inference_mode, and inference under it."""
    ae = AutoencoderTransformer(max_iter=2, random_state=0).fit(X)
    with torch.inference_mode():
        assert_array_equal(ae.transform(X), ae.transform(X))
        msg = "cannot train inside torch.inference_mode()"
        with pytest.raises(RuntimeError, match=re.escape(msg)):
            AutoencoderTransformer(max_iter=1).fit(X)


@pytest.mark.parametrize("name", ["n_components", "batch_size", "max_iter", "n_iter_no_change"])
def test_bool_is_not_a_size(name, X):
    """Check that True/False are refused where a count is expected."""
    with pytest.raises(TypeError, match=f"{name} must be an int, got the bool True."):
        AutoencoderTransformer(**{name: True}).fit(X)

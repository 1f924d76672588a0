"""How a fit trains: the stopping rule, the learning-rate schedule and "auto"."""

import math
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
)
from sk_autoencoder.networks import MLPNetwork

rng = np.random.RandomState(0)
X_UNIT = rng.rand(120, 6).astype(np.float32)  # in [0, 1]
X_REAL = rng.randn(120, 6).astype(np.float32)  # standardised-like


def fit_quietly(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def stopping_epoch(losses, tol, patience, relative):
    """Replay the stopping rule on a loss curve: the epoch it stops after."""
    threshold, misses = math.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        if loss < threshold:
            misses = 0
            threshold = loss - (tol * loss if relative else tol)
        else:
            misses += 1
        if misses == patience:
            return epoch
    return None


def test_stopping_rule_is_relative_to_the_loss():
    """Data scaled down 1000 times must train as long as the loss keeps falling.

    Under the rule of sklearn's MLP (an absolute improvement of tol=1e-4
    within n_iter_no_change epochs) this fit stopped at epoch 19, at a loss
    of 2e-4 that went on to fall 19-fold. The rule is now relative to the
    best loss, so when a fit stops does not depend on the data's scale.
    """
    est = fit_quietly(
        AutoencoderTransformer(
            2,
            learning_rate_init=2.5e-3,
            batch_size=256,
            max_iter=300,
            random_state=0,
            init="random",
            early_stopping=False,
            network=MLPNetwork((512,), activation="relu", batch_norm=False),
        ),
        X_REAL * 1e-3,
    )
    curve = est.loss_curve_
    absolute = stopping_epoch(curve, 1e-4, 10, relative=False)
    assert absolute is not None and absolute < est.n_iter_ < 300
    assert curve[-1] < 0.1 * curve[absolute - 1]
    assert est.n_iter_ == stopping_epoch(curve, 1e-4, 10, relative=True)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_stopping_epoch_follows_the_relative_rule(early_stopping):
    """n_iter_ is where the relative rule, replayed on the monitored loss, stops."""
    est = fit_quietly(
        AutoencoderTransformer(
            2,
            tol=0.02,
            n_iter_no_change=3,
            max_iter=100,
            early_stopping=early_stopping,
            random_state=0,
        ),
        X_REAL,
    )
    monitored = [-s for s in est.validation_scores_] if early_stopping else est.loss_curve_
    assert est.n_iter_ < 100
    assert stopping_epoch(monitored, 0.02, 3, relative=True) == est.n_iter_


def test_cosine_schedule_anneals_to_zero_over_max_iter():
    est = fit_quietly(
        AutoencoderTransformer(
            2,
            learning_rate="cosine",
            learning_rate_init=2e-3,
            max_iter=8,
            tol=0.0,
            n_iter_no_change=8,
            random_state=0,
        ),
        X_REAL,
    )
    assert est.n_iter_ == 8
    expected = [1e-3 * (1 + math.cos(math.pi * t / 8)) for t in range(8)]
    np.testing.assert_allclose(est.net_.history[:, "event_lr"], expected, rtol=1e-12)
    assert est.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-15)


def test_onecycle_schedule_warms_up_then_anneals_per_batch():
    """Check torch's OneCycleLR per batch: a tenth of the steps up, the rest down."""
    est = AutoencoderTransformer(
        2,
        learning_rate="onecycle",
        learning_rate_init=2e-3,
        max_iter=5,
        batch_size=24,
        random_state=0,
        init="random",
        early_stopping=False,
        network=MLPNetwork(activation="relu", batch_norm=False),
    ).fit(X_REAL)
    rates = [b["event_lr"] for epoch in est.net_.history[:, "batches"] for b in epoch]
    assert len(rates) == 5 * 5  # 120 rows in batches of 24, five epochs
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=2e-3)
    replay = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, 2e-3, total_steps=25, pct_start=0.1, cycle_momentum=False
    )
    expected = []
    for _ in range(25):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        replay.step()
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    assert rates[0] == pytest.approx(2e-3 / 25) and max(rates) > 0.99 * 2e-3
    assert np.all(np.diff(rates[int(np.argmax(rates)) :]) < 0)


@pytest.mark.parametrize(
    "learning_rate, warns",
    [("cosine", False), ("onecycle", False), ("constant", True), ("adaptive", True)],
)
def test_only_an_unplanned_stop_at_max_iter_warns(learning_rate, warns):
    """Check that a schedule planned to end at max_iter raises no ConvergenceWarning."""
    est = AutoencoderTransformer(2, learning_rate=learning_rate, max_iter=3, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X_REAL)
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == int(warns)


def test_warnings_point_at_the_callers_line():
    """Check that the ConvergenceWarning names this file and the line that fitted."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    est = AutoencoderTransformer(2, max_iter=2, learning_rate="constant", random_state=0)
    calls = [
        lambda: est.fit(X_REAL),
        lambda: est.fit_transform(X_REAL),
        lambda: make_pipeline(est).fit(X_REAL),
        lambda: GridSearchCV(est, {"n_components": [2]}, cv=2).fit(X_REAL),
    ]
    lines = [call.__code__.co_firstlineno for call in calls]
    for call, line in zip(calls, lines, strict=True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        places = {(w.filename, w.lineno) for w in caught if w.category is ConvergenceWarning}
        assert places == {(__file__, line)}


def test_adaptive_schedule_divides_by_five_on_a_plateau():
    """The rates equal torch's ReduceLROnPlateau replayed on the loss curve."""
    est = fit_quietly(
        AutoencoderTransformer(
            2,
            learning_rate="adaptive",
            learning_rate_init=1e-2,
            tol=0.01,
            n_iter_no_change=6,
            max_iter=80,
            random_state=0,
            init="random",
            early_stopping=False,
            network=MLPNetwork(activation="relu", batch_norm=False),
        ),
        X_REAL,
    )
    rates = est.net_.history[:, "event_lr"]
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=1e-2)
    replay = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.2, patience=2, threshold=0.01, threshold_mode="rel"
    )
    expected = []
    for loss in est.loss_curve_:
        expected.append(optimizer.param_groups[0]["lr"])
        replay.step(loss)
    assert len(set(rates)) > 1, "no reduction happened: the test would prove nothing"
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    assert set(np.round(np.array(rates) / 1e-2, 12)) <= {1.0, 0.2, 0.04, 0.008, 0.0016, 0.00032}


def test_partial_fit_keeps_the_rate_constant():
    est = AutoencoderTransformer(2, learning_rate="cosine", learning_rate_init=3e-3, random_state=0)
    for _ in range(3):
        est.partial_fit(X_REAL)
    assert est.net_.optimizer_.param_groups[0]["lr"] == 3e-3
    assert "event_lr" not in est.net_.history[-1]


def test_partial_fit_after_an_annealed_fit_trains_at_the_initial_rate():
    """Cosine ends fit at a rate of 0; partial_fit must not inherit it and stall."""
    est = AutoencoderTransformer(2, learning_rate="cosine", max_iter=4, random_state=0)
    est.fit(X_REAL)
    assert est.net_.optimizer_.param_groups[0]["lr"] == 0.0
    before = est.transform(X_REAL)
    est.partial_fit(X_REAL)
    assert est.net_.optimizer_.param_groups[0]["lr"] == est.recipe_["learning_rate_init"] == 7.5e-3
    assert np.abs(est.transform(X_REAL) - before).max() > 1e-4


# A recipe whose output is "auto" (a random start): the data's range decides.
QUALITY_MLP = MLPNetwork((16,), preset="quality")


@pytest.mark.parametrize(
    "X, output_activation, loss, expected",
    [
        (X_UNIT, "auto", "auto", ("sigmoid", "bce")),
        (X_REAL, "auto", "auto", ("identity", "mse")),
        (X_UNIT, "sigmoid", "auto", ("sigmoid", "bce")),
        (X_REAL, "sigmoid", "auto", ("sigmoid", "mse")),
        (X_UNIT, "identity", "auto", ("identity", "mse")),
        (X_UNIT, "auto", "mse", ("sigmoid", "mse")),
        (X_REAL, "identity", "mse", ("identity", "mse")),
    ],
)
def test_auto_output_and_loss_resolve_on_the_data(X, output_activation, loss, expected):
    est = AutoencoderTransformer(
        2,
        output_activation=output_activation,
        loss=loss,
        max_iter=2,
        random_state=0,
        network=QUALITY_MLP,
    )
    fit_quietly(est, X)
    assert (est.output_activation_, est.loss_) == expected
    last = list(est.net_.module_.decoder.children())[-1]
    assert isinstance(last, torch.nn.Sigmoid) == (expected[0] == "sigmoid")
    assert isinstance(est.net_.criterion_, torch.nn.BCELoss) == (expected[1] == "bce")
    # A refit on other data resolves again.
    other = X_REAL if X is X_UNIT else X_UNIT
    fit_quietly(est, other)
    assert est.n_features_in_ == 6


@pytest.mark.parametrize(
    "cls, auto",
    [
        (AutoencoderTransformer, ("identity", "mse")),
        (VariationalAutoencoderTransformer, ("identity", "mse")),
        (AutoencoderOutlierDetector, ("identity", "mse")),
    ],
)
def test_auto_output_is_the_recipe_and_a_sigmoid_gets_bce_for_every_estimator(cls, auto):
    """Check "auto" output and loss on [0, 1] data from a random start, for every estimator.

    The default recipes keep an identity output and MSE; a sigmoid output
    asked for by name pairs with cross-entropy under loss="auto" (and, on
    the transformer, makes its PCA start a random one).
    """
    est = fit_quietly(cls(max_iter=2, random_state=0, init="random"), X_UNIT)
    assert (est.output_activation_, est.loss_) == auto
    est = fit_quietly(cls(output_activation="sigmoid", max_iter=2, random_state=0), X_UNIT)
    assert (est.output_activation_, est.loss_) == ("sigmoid", "bce")
    assert np.isfinite(est.score_samples(X_UNIT)).all()


def test_auto_choice_is_kept_by_partial_fit_and_named_in_errors():
    est = AutoencoderTransformer(
        2, output_activation="auto", loss="auto", random_state=0, network=QUALITY_MLP
    )
    est.partial_fit(X_UNIT)
    weights = [p.detach().clone() for p in est.net_.module_.parameters()]
    msg = (
        "loss='bce' (chosen by loss='auto' from the data the model was first fitted on) "
        "requires X in [0, 1], got values in"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        est.partial_fit(X_REAL)
    assert (est.output_activation_, est.loss_, est.n_iter_) == ("sigmoid", "bce", 1)
    for before, after in zip(weights, est.net_.module_.parameters(), strict=True):
        assert torch.equal(before, after)


def test_auto_on_out_of_core_data_looks_at_the_first_chunk(tmp_path):
    path = tmp_path / "x.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(120, 6))
    X[:] = X_UNIT
    X[100:] -= 2.0  # outside [0, 1], but not in the first chunk
    X.flush()
    est = AutoencoderTransformer(
        2,
        output_activation="auto",
        loss="auto",
        chunk_size=50,
        max_iter=2,
        random_state=0,
        network=QUALITY_MLP,
    )
    with pytest.raises(ValueError, match=r"chosen by loss='auto'.*rows 100 to 119"):
        est.fit(np.load(path, mmap_mode="r"))
    assert not hasattr(est, "loss_")
    est.set_params(chunk_size=200)  # one chunk: the whole range is seen
    fit_quietly(est, np.load(path, mmap_mode="r"))
    assert (est.output_activation_, est.loss_) == ("identity", "mse")


def test_auto_choice_survives_save_and_load(tmp_path):
    est = fit_quietly(
        AutoencoderTransformer(
            2,
            output_activation="auto",
            loss="auto",
            max_iter=3,
            random_state=0,
            network=QUALITY_MLP,
        ),
        X_UNIT,
    )
    est.save(tmp_path / "m.safetensors")
    loaded = AutoencoderTransformer.load(tmp_path / "m.safetensors")
    assert (loaded.output_activation_, loaded.loss_) == ("sigmoid", "bce")
    np.testing.assert_array_equal(loaded.transform(X_UNIT), est.transform(X_UNIT))


@pytest.mark.parametrize("max_iter", [1, 2, 3, 5, 10])
def test_onecycle_trains_with_few_steps(max_iter):
    """Check a one-cycle fit of only a few batches.

    With one batch per epoch, a tenth of the steps is under one step: at 10
    steps OneCycleLR divided by zero, below it the warm-up was skipped (5
    steps started at the peak) and one step trained at 1e-8. The warm-up
    now lasts at least one step; under 3 steps the rate is constant.
    """
    est = AutoencoderTransformer(
        2,
        learning_rate="onecycle",
        max_iter=max_iter,
        batch_size=len(X_REAL),
        random_state=0,
        init="random",
        early_stopping=False,
        network=MLPNetwork(activation="relu", batch_norm=False),
    ).fit(X_REAL)
    lr = est.recipe_["learning_rate_init"]
    if max_iter < 3:
        assert est.net_.optimizer_.param_groups[0]["lr"] == lr
        return
    rates = [b["event_lr"] for epoch in est.net_.history[:, "batches"] for b in epoch]
    assert len(rates) == max_iter
    assert rates[0] == pytest.approx(lr / 25) and max(rates) > 0.5 * lr
    peak = int(np.argmax(rates))
    assert peak >= 1 and np.all(np.diff(rates[peak:]) < 0)

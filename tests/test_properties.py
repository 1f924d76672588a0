"""Property-based tests (hypothesis): invariants that hold for any valid input,
and clear errors for any invalid one.

Networks are tiny and fits are one or two epochs, so each example costs a few
milliseconds; ``max_examples`` keeps the module at a few seconds. The suite's
examples are derandomized so that CI is repeatable; for a longer random hunt,
run ``HYPOTHESIS_PROFILE=explore pytest tests/test_properties.py``.
"""

import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

from sk_autoencoder import (
    AutoencoderOutlierDetector,
    AutoencoderTransformer,
    VariationalAutoencoderTransformer,
)
from sk_autoencoder.networks import MLPNetwork

settings.register_profile(
    "suite",
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SETTINGS = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))
SMALL = dict(network=MLPNetwork((5,)), max_iter=2, random_state=0)


@st.composite
def float_data(draw, min_rows=3, max_rows=24, elements=None):
    """A (n_samples, n_features) float32 or float64 array with bounded values."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = (draw(st.integers(min_rows, max_rows)), draw(st.integers(1, 6)))
    if elements is None:
        elements = st.floats(-100, 100, width=32, allow_subnormal=False)
    return draw(arrays(dtype, shape, elements=elements))


@SETTINGS
@given(X=float_data(), n_components=st.integers(1, 4))
def test_shapes_dtypes_and_finiteness(X, n_components):
    """Check shape, dtype and finiteness of every output for any valid float input."""
    ae = AutoencoderTransformer(n_components, **SMALL).fit(X)
    Z = ae.transform(X)
    X_hat = ae.inverse_transform(Z)
    assert Z.shape == (len(X), n_components) and Z.dtype == X.dtype
    assert X_hat.shape == X.shape and X_hat.dtype == X.dtype
    assert np.isfinite(Z).all() and np.isfinite(X_hat).all()
    scores = ae.score_samples(X)
    assert scores.shape == (len(X),) and np.isfinite(scores).all() and (scores <= 0).all()


@SETTINGS
@given(X=float_data(min_rows=3), data=st.data())
def test_float64_subset_and_batch_invariance(X, data):
    """Check that a float64 row's code does not depend on the rows around it."""
    X = X.astype(np.float64)
    ae = AutoencoderTransformer(2, **SMALL).fit(X)
    mask = data.draw(arrays(bool, len(X)).filter(lambda m: m.any()))
    assert_allclose(ae.transform(X[mask]), ae.transform(X)[mask], rtol=1e-12, atol=1e-12)
    scores = ae.score_samples(X)
    assert_allclose(ae.score_samples(X[mask]), scores[mask], rtol=1e-12, atol=1e-15)


@SETTINGS
@given(
    X=float_data(),
    seed=st.integers(0, 2**31 - 2),
    Estimator=st.sampled_from(
        [AutoencoderTransformer, VariationalAutoencoderTransformer, AutoencoderOutlierDetector]
    ),
)
def test_int_seed_is_bitwise_reproducible(X, seed, Estimator):
    """Check that two fits with one int seed agree bit for bit."""
    params = {**SMALL, "random_state": seed, "network": MLPNetwork((5,), dropout=0.1)}
    a = Estimator(**params).fit(X).score_samples(X)
    b = Estimator(**params).fit(X).score_samples(X)
    assert_array_equal(a, b)


# Messages of the library's own errors and of sklearn's input validation; an
# error raised from inside torch has none of them.
CLEAR_ERRORS = re.compile(
    "|".join(
        [
            "Input X contains (NaN|infinity)",
            "Expected 2D array",
            "Found array with dim 3",
            "Found array with 0 (sample|feature)",
            "Complex data not supported",
            "dtype='numeric' is not compatible|could not convert|Unable to convert",
            "beyond the float32 range",
            "Training diverged",
            "needs at least 2 samples to train",
            "is expecting \\d+ features",
            "The network's output is not finite for finite input",
        ]
    )
)


@st.composite
def bad_data(draw):
    """Arrays that are invalid for fit: non-finite values, wrong rank, empty, complex, text."""
    kind = draw(st.sampled_from(["nonfinite", "rank", "empty", "complex", "text"]))
    if kind == "nonfinite":
        X = draw(float_data())
        i, j = draw(st.integers(0, X.shape[0] - 1)), draw(st.integers(0, X.shape[1] - 1))
        X[i, j] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return X
    if kind == "rank":
        ndim = draw(st.sampled_from([0, 1, 3]))
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
        return np.ones(shape)
    if kind == "empty":
        return np.empty(draw(st.sampled_from([(0, 3), (3, 0)])))
    if kind == "complex":
        return draw(float_data()).astype(np.complex128) * 1j
    return np.array([["a", "b"], ["c", "d"]], dtype=object)


def test_two_rows_are_too_few_for_the_defaults():
    """Check the clear error for 2 rows: the validation split leaves batch norm one.

    The defaults hold out a validation split (ceil(10 %) = 1 row of 2) and
    use batch norm, which needs two rows to train on; 3 rows suffice.
    """
    X = np.arange(12.0).reshape(2, 6)
    msg = (
        "MLPNetwork(batch_norm=True) needs at least 2 samples to train; early_stopping holds out "
        "validation_fraction=0.1 of n_samples=2, leaving 1 for training."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        AutoencoderTransformer(**SMALL).fit(X)
    AutoencoderTransformer(**SMALL).fit(np.arange(18.0).reshape(3, 6))


@SETTINGS
@given(X=bad_data())
def test_invalid_input_gets_a_clear_error(X):
    """Check that invalid data raise ValueError/TypeError with a message naming it."""
    with pytest.raises((ValueError, TypeError), match=CLEAR_ERRORS):
        AutoencoderTransformer(**SMALL).fit(X)


@SETTINGS
@given(
    X=float_data(elements=st.floats(width=32, allow_nan=False, allow_infinity=False)),
    Xt=float_data(),
)
def test_any_finite_input_succeeds_or_fails_clearly(X, Xt):
    """Check that extreme but finite values never reach torch's own errors."""
    try:
        ae = AutoencoderTransformer(**SMALL).fit(X)
    except ValueError as exc:
        assert CLEAR_ERRORS.search(str(exc)), str(exc)
        return
    try:
        Z = ae.transform(Xt)
    except ValueError as exc:
        assert CLEAR_ERRORS.search(str(exc)), str(exc)
        return
    assert np.isfinite(Z).all()

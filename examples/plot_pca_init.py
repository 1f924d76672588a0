"""
Never worse than PCA: ``init="pca"``
====================================

With ``init="pca"`` the untrained model *is* PCA (its networks are gated
residuals of PCA's linear maps, with the gates at zero), and with
``early_stopping`` the initial weights are scored on the validation split
and kept unless an epoch beats them. On data where PCA is optimal (a
linear-Gaussian table) the autoencoder then stays at PCA's error; where
it is not (digits) it learns what PCA misses.
"""

# %%
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderTransformer, reconstruction_error

rng = np.random.RandomState(0)
W = rng.normal(size=(8, 40)) * np.linspace(3, 1, 8)[:, None]
gaussian = rng.normal(size=(1500, 8)) @ W + 0.5 * rng.normal(size=(1500, 40))
data = {"linear-Gaussian": gaussian, "digits": load_digits().data / 16.0}

for name, X in data.items():
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    pca = reconstruction_error(PCA(8).fit(X_train), X_test)
    for init in ("random", "pca"):
        ae = AutoencoderTransformer(8, init=init, early_stopping=True, random_state=0)
        ratio = reconstruction_error(ae.fit(X_train), X_test) / pca
        print(f"{name:16s} init={init!r:9s} held-out error {ratio:.3f} x PCA")

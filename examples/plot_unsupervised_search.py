"""
Choosing a compressor without labels: ``reconstruction_scorer``
===============================================================

``reconstruction_scorer`` is minus the mean squared error of
``inverse_transform(transform(X))``, for any transformer that inverts:
PCA, KernelPCA with ``fit_inverse_transform=True``, NMF and the
autoencoders. One cross-validated score ranks them all.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import NMF, PCA, KernelPCA
from sklearn.model_selection import cross_val_score

from sk_autoencoder import AutoencoderTransformer, reconstruction_scorer

X = load_digits().data / 16.0
k = 8
models = {
    "PCA": PCA(k),
    "NMF": NMF(k, max_iter=500, random_state=0),
    "KernelPCA": KernelPCA(k, kernel="rbf", fit_inverse_transform=True, alpha=0.1),
    "autoencoder": AutoencoderTransformer(k, random_state=0),
}
errors = {
    name: -cross_val_score(model, X, scoring=reconstruction_scorer, cv=3).mean()
    for name, model in models.items()
}
for name, error in errors.items():
    print(f"{name:12s} {error:.4f}")

fig, ax = plt.subplots(figsize=(5, 3))
ax.barh(list(errors), list(errors.values()))
ax.set_xlabel(f"cross-validated reconstruction MSE, k={k}")
plt.tight_layout()
plt.show()

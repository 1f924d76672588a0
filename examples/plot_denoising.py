"""
Denoising: learn to undo corruption
===================================

With ``noise="gaussian"`` each training batch is corrupted and the network
learns to reconstruct the clean one; ``transform`` never adds noise. Fed
noisy digits, the denoising autoencoder returns cleaner ones than a plain
autoencoder of the same size.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderTransformer

X = load_digits().data / 16.0
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
rng = np.random.RandomState(0)
noisy = np.clip(X_test + 0.3 * rng.normal(size=X_test.shape), 0, 1)

plain = AutoencoderTransformer(16, random_state=0).fit(X_train)
denoising = AutoencoderTransformer(16, noise="gaussian", noise_level=0.3, random_state=0)
denoising.fit(X_train)


def restore(model, X):
    return model.inverse_transform(model.transform(X))


for name, model in [("plain", plain), ("denoising", denoising)]:
    error = np.mean((restore(model, noisy) - X_test) ** 2)
    print(f"{name:10s} MSE to the clean digits: {error:.4f}")

# %%
rows = {
    "clean": X_test[:6],
    "noisy": noisy[:6],
    "plain": restore(plain, noisy[:6]),
    "denoising": restore(denoising, noisy[:6]),
}
fig, axes = plt.subplots(4, 6, figsize=(6, 4.5))
for r, (name, images) in enumerate(rows.items()):
    for c, image in enumerate(images):
        axes[r, c].imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(name)
plt.tight_layout()
plt.show()

"""
Autoencoder against PCA: reconstructions of digits
==================================================

Both compress 64-pixel digits to 8 numbers and decode them back. PCA's
code is linear; the autoencoder's is learnt by a small neural network.
The held-out error says how much of each image survives.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderTransformer, reconstruction_error

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)

pca = PCA(n_components=8).fit(X_train)
ae = AutoencoderTransformer(n_components=8, random_state=0).fit(X_train)

for name, model in [("PCA", pca), ("autoencoder", ae)]:
    print(f"{name:12s} held-out MSE: {reconstruction_error(model, X_test):.4f}")

# %%
# The same five test digits, then their reconstructions.
rows = {
    "original": X_test[:5],
    "PCA": pca.inverse_transform(pca.transform(X_test[:5])),
    "autoencoder": ae.inverse_transform(ae.transform(X_test[:5])),
}
fig, axes = plt.subplots(3, 5, figsize=(6, 4))
for r, (name, images) in enumerate(rows.items()):
    for c, image in enumerate(images):
        axes[r, c].imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(name)
fig.suptitle("8 numbers per digit")
plt.tight_layout()
plt.show()

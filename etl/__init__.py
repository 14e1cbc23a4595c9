"""ctmirror: a verified offline mirror of the Allen Cell Types Database.

``ctmirror.open(root_or_db_url)`` opens a synced mirror for analysis (``ctmirror.api``); it is
imported on first use, so ``import ctmirror`` (and the command line) loads nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ctmirror.api import Mirror
    from ctmirror.api import open_mirror as open  # noqa: A004

_LAZY = {"open": "open_mirror", "Mirror": "Mirror"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from ctmirror import api

        return getattr(api, _LAZY[name])
    raise AttributeError(f"module 'ctmirror' has no attribute {name!r}")


__all__ = ["Mirror", "__version__", "open"]

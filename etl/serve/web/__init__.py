"""Web pages of ``ctmirror serve``: cell search, cell pages with plots, an overview."""

from __future__ import annotations

from pathlib import Path

from ctmirror.serve.web.data import WebData
from ctmirror.serve.web.pages import WebPages


def web_pages(url: str, root: Path) -> WebPages:
    """The pages over the warehouse at ``url`` and the mirror at ``root``."""
    return WebPages(WebData(url, root))


__all__ = ["WebPages", "web_pages"]

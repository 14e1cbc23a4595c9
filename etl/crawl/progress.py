"""Typed progress events of a crawl, and the sink protocol that receives them.

The extractor never prints: it hands events to a sink (the CLI renders them with rich, a flow
logs them). Calls to a sink are serialised by the extractor, so a sink need not be thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ModelStarted:
    model: str
    batches: int


@dataclass(frozen=True)
class PageDone:
    model: str
    rows: int
    reused: bool


@dataclass(frozen=True)
class BatchFailed:
    model: str
    url: str
    message: str


@dataclass(frozen=True)
class ModelDone:
    model: str
    rows: int
    pages: int
    complete: bool


CrawlEvent = ModelStarted | PageDone | BatchFailed | ModelDone


class ProgressSink(Protocol):
    def __call__(self, event: CrawlEvent) -> None: ...


class NullSink:
    """Ignores every event."""

    def __call__(self, event: CrawlEvent) -> None:
        return None


__all__ = [
    "BatchFailed",
    "CrawlEvent",
    "ModelDone",
    "ModelStarted",
    "NullSink",
    "PageDone",
    "ProgressSink",
]

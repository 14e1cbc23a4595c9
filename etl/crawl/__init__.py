"""The extract stage of ``ctmirror sync``: a declarative crawl plan run into a staging package."""

from __future__ import annotations

from ctmirror.crawl.extract import ExtractError, ExtractReport, ModelReport, extract
from ctmirror.crawl.plan import DEFAULT_PLAN, KeySource, ModelStep, Resource, execution_order
from ctmirror.crawl.progress import (
    BatchFailed,
    CrawlEvent,
    ModelDone,
    ModelStarted,
    NullSink,
    PageDone,
    ProgressSink,
)
from ctmirror.crawl.records import flat_record
from ctmirror.crawl.staging import Manifest, StagingPackage, page_key

__all__ = [
    "DEFAULT_PLAN",
    "BatchFailed",
    "CrawlEvent",
    "ExtractError",
    "ExtractReport",
    "KeySource",
    "Manifest",
    "ModelDone",
    "ModelReport",
    "ModelStarted",
    "ModelStep",
    "NullSink",
    "PageDone",
    "ProgressSink",
    "Resource",
    "StagingPackage",
    "execution_order",
    "extract",
    "flat_record",
    "page_key",
]

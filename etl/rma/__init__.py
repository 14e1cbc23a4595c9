"""The RMA API edge: query strings, the HTTP client with its retry policy, and paging."""

from __future__ import annotations

from ctmirror.rma.client import RmaClient
from ctmirror.rma.envelope import Record, RmaResponse, check_response
from ctmirror.rma.paginator import OffsetPaginator, PageRequest, iter_rows, paged_query
from ctmirror.rma.query import (
    eq,
    filter_clause,
    format_value,
    in_,
    model_stage,
    options_clause,
    query_path,
    query_url,
)
from ctmirror.rma.retry import RetryPolicy, parse_retry_after, retry_delay

__all__ = [
    "OffsetPaginator",
    "PageRequest",
    "Record",
    "RetryPolicy",
    "RmaClient",
    "RmaResponse",
    "check_response",
    "eq",
    "filter_clause",
    "format_value",
    "in_",
    "iter_rows",
    "model_stage",
    "options_clause",
    "paged_query",
    "parse_retry_after",
    "query_path",
    "query_url",
    "retry_delay",
]

"""Checking one RMA answer: HTTP status, content type, JSON, envelope (pure: bytes in).

The check is split in two: ``check_status`` (status and content type, no parsing) and
``parse_envelope`` (the JSON and its envelope), so a caller that already knows the answer's
bytes can skip the parse (see ``RmaClient.fetch_or_reuse``).

The real API has been seen answering HTTP 200 with an HTML "site unavailable" page, and a
dropped stream leaves a truncated JSON body; both are worth retrying. A well-formed envelope
with ``success: false`` is the server rejecting the query, which no retry will change. AllenSDK
checks none of this and hands an error string on as if it were data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from ctmirror.errors import (
    ApiOutageError,
    ApiTransportError,
    RmaError,
    TerminalApiStatusError,
    TransientApiStatusError,
)

Record = dict[str, Any]

_JSON_TYPES = ("application/json", "text/json")


@dataclass(frozen=True)
class RmaResponse:
    """A checked RMA answer. ``total_rows`` is as the server sent it: with joins it lies."""

    url: str
    rows: list[Record]
    start_row: int | None
    total_rows: int | None
    #: The sha256 of the body, when the client computed it (``fetch_or_reuse``).
    body_sha256: str | None = None


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(mtype: str) -> bool:
    return mtype in _JSON_TYPES or mtype.endswith("+json")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rejection(body: bytes) -> str | None:
    """The message of a ``success: false`` envelope in ``body``, else None."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, dict) and doc.get("success") is False:
        return _short(str(doc.get("msg", "")))
    return None


def check_response(
    url: str,
    status_code: int,
    content_type: str | None,
    body: bytes,
    *,
    retry_after: float | None = None,
) -> RmaResponse:
    """Turn one HTTP answer into an ``RmaResponse``, or raise the matching ``ctmirror.errors``
    class."""
    check_status(url, status_code, content_type, body, retry_after=retry_after)
    return parse_envelope(url, body)


def check_status(
    url: str,
    status_code: int,
    content_type: str | None,
    body: bytes,
    *,
    retry_after: float | None = None,
) -> None:
    """Raise the matching ``ctmirror.errors`` class unless the answer is an HTTP 200 with a
    JSON content type (the body is parsed only to quote a failing status's message)."""
    mtype = media_type(content_type)
    if status_code != 200:
        if status_code == 429 or 500 <= status_code <= 599:
            # A 5xx is retried even with a success:false envelope: the API answers a query it
            # cannot run that way, but also a failing back end, and the crawl sends only queries
            # it has sent before. The server's message goes into the error either way.
            said = _rejection(body) if _is_json(mtype) else None
            raise TransientApiStatusError(
                f"HTTP {status_code} from the API"
                + (f" ({said})" if said else "")
                + "; it is overloaded or down, or rejected the query; try again later",
                url=url, status_code=status_code, retry_after=retry_after,
            )
        raise TerminalApiStatusError(
            f"HTTP {status_code} from the API for {url}; check the API base URL and the query",
            url=url, status_code=status_code,
        )
    if mtype == "text/html":
        raise ApiOutageError(
            "the API answered with an HTML page instead of JSON (site unavailable?); "
            "try again later",
            url=url,
        )
    if not _is_json(mtype):
        raise RmaError(
            f"the API answered with content type {content_type!r}, not JSON; "
            "check that the base URL points at an RMA API",
            url=url,
        )


def parse_envelope(url: str, body: bytes, *, body_sha256: str | None = None) -> RmaResponse:
    """The records of a JSON body that passed ``check_status``, or the error to raise."""
    try:
        doc = _loads(body)
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for a cut character
        raise ApiTransportError(
            f"the API's JSON answer is cut short or garbled ({_short(str(exc), 80)}); try again",
            url=url,
        ) from exc
    if not isinstance(doc, dict):
        raise RmaError("the API's answer is not an RMA envelope (a JSON object)", url=url)
    if doc.get("success") is not True:
        raise RmaError(f"the API rejected the query: {_short(str(doc.get('msg', '')))}", url=url)
    msg = doc.get("msg")
    if not isinstance(msg, list) or not all(isinstance(row, dict) for row in msg):
        raise RmaError("the API's answer has success:true but msg is not a list of records",
                       url=url)
    return RmaResponse(
        url=url,
        rows=msg,
        start_row=_int_or_none(doc.get("start_row")),
        total_rows=_int_or_none(doc.get("total_rows")),
        body_sha256=body_sha256,
    )


_LONG_NUMBER = re.compile(rb"\d{19}")


def _loads(body: bytes) -> Any:
    """``json.loads(body)``, through orjson where it reads the same values (several times
    faster, and a no-op sync parses every page): not for integers past 64 bits (orjson makes
    them floats), nor what orjson refuses and the standard parser reads (NaN, lone
    surrogates)."""
    if not _LONG_NUMBER.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = ["Record", "RmaResponse", "check_response", "check_status", "media_type",
           "parse_envelope"]

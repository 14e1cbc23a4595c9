"""The RMA client: httpx with keep-alive and timeouts, the retry policy, and request counting.

The client is safe to share between threads; at most ``concurrency`` requests are in flight at
once. Tests inject an ``httpx.Client`` built on ``httpx.MockTransport``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType

import httpx

from ctmirror import __version__
from ctmirror.errors import ApiError, ApiTransportError, ApiUnreachableError, ConfigError
from ctmirror.rma.envelope import RmaResponse, check_response
from ctmirror.rma.query import Format, query_url
from ctmirror.rma.retry import QUERY_RETRY, parse_retry_after, retry_delay

log = logging.getLogger(__name__)

USER_AGENT = f"ctmirror/{__version__}"


class RmaClient:
    """Runs RMA queries against ``base_url`` (the API root, without ``/api/v2``)."""

    def __init__(
        self,
        base_url: str,
        *,
        http: httpx.Client | None = None,
        timeout: float = 60.0,
        max_attempts: int = 8,
        concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        auth: tuple[str, str] | None = None,
        unreachable_attempts: int | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"API base URL {base_url!r} must start with http:// or https://")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.policy = replace(QUERY_RETRY, max_attempts=max_attempts,
                              unreachable_attempts=unreachable_attempts)
        self._sleep = sleep
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            ),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
            auth=auth,
        )
        self._slots = threading.BoundedSemaphore(concurrency)
        self._count_lock = threading.Lock()
        self._requests = 0

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, retries included."""
        with self._count_lock:
            return self._requests

    def url_for(self, q: str, fmt: Format = "json") -> str:
        return query_url(self.base_url, q, fmt)

    def query(self, q: str) -> RmaResponse:
        """Run one RMA query (a ``model::...`` string) and return its checked answer."""
        return self.fetch(self.url_for(q))

    def fetch(self, url: str) -> RmaResponse:
        """GET an already encoded query URL, retrying transient failures per the policy."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(url)
            except ApiError as exc:
                delay = retry_delay(exc, attempt, self.policy)
                if delay is None:
                    if attempt > 1:
                        log.info("%s - giving up after %d attempts: %s", url, attempt, exc)
                    raise
                log.info("%s - attempt %d/%d failed (%s); retrying in %.1f s",
                         url, attempt, self.policy.max_attempts, exc, delay)
                self._sleep(delay)

    def _attempt(self, url: str) -> RmaResponse:
        with self._count_lock:
            self._requests += 1
        try:
            with self._slots:
                response = self._http.get(url)
        except httpx.ConnectError as exc:
            raise ApiUnreachableError(
                f"no usable answer from the API: cannot connect ({exc}); "
                "check the URL and the network",
                url=url,
            ) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise ApiTransportError(
                f"no usable answer from the API ({type(exc).__name__}: {exc}); "
                "check the network or try again later",
                url=url,
            ) from exc
        return check_response(
            url,
            response.status_code,
            response.headers.get("content-type"),
            response.content,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> RmaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["USER_AGENT", "RmaClient"]

"""The retry policy for every request ctmirror sends, in one place (pure: the caller sleeps).

Queries (``RmaClient``), the preflight check and file downloads (``ctmirror.mirror``) all decide
with ``retry_delay``. Transient failures (no response, 429, any 5xx, an HTML outage page, a
truncated body) are retried up to ``max_attempts`` times; terminal ones never. A server's
``Retry-After`` is honoured within sane bounds, else the wait grows exponentially with jitter, so
parallel workers spread out (as dandi-cli does).

The policies differ only in their number of attempts: downloads get more because each attempt
resumes where the last stopped, and the preflight gives up on an API it cannot connect to at all
after two attempts (a wrong URL or no network; an API that answers "busy" gets the full budget).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ctmirror.errors import ApiStatusError, ApiUnreachableError, TransientError

# A Retry-After date this far ahead is a misconfigured server, not a plan (as dandi-cli does).
RETRY_AFTER_HORIZON_S = 7 * 24 * 3600.0
# A date slightly in the past is clock skew; further back it says nothing useful.
RETRY_AFTER_PAST_TOLERANCE_S = 2.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    # Floor for any wait: 'Retry-After: 0' must not turn into a tight loop that burns every
    # attempt in a millisecond.
    min_delay_s: float = 0.5
    # Ceiling for a server-requested wait.
    max_retry_after_s: float = 600.0
    # Attempts when no connection can be made at all; None: max_attempts.
    unreachable_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 <= self.min_delay_s <= self.max_delay_s:
            raise ValueError("need 0 <= min_delay_s <= max_delay_s")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None
    when the header is absent, unparseable, or absurd (far future, long past)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        if seconds < -RETRY_AFTER_PAST_TOLERANCE_S:
            return None
        seconds = max(seconds, 0.0)
    if seconds > RETRY_AFTER_HORIZON_S:
        return None
    return seconds


def retry_delay(
    error: BaseException,
    attempt: int,
    policy: RetryPolicy,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to sleep before attempt ``attempt + 1``, or None to give up.

    ``attempt`` counts from 1 (the attempt that just failed). Only ``TransientError`` is
    retried; anything else, or the last attempt, gives up. ``retry_after`` defaults to what the
    server asked for in the error's answer.
    """
    if not isinstance(error, TransientError) or attempt >= policy.max_attempts:
        return None
    if (isinstance(error, ApiUnreachableError) and policy.unreachable_attempts is not None
            and attempt >= policy.unreachable_attempts):
        return None
    if retry_after is None and isinstance(error, ApiStatusError):
        retry_after = error.retry_after
    if retry_after is not None:
        return min(max(retry_after, policy.min_delay_s), policy.max_retry_after_s)
    # Equal jitter: half the exponential step is fixed, half random, so waits always grow.
    step = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
    return max(policy.min_delay_s, step / 2.0 + rand() * step / 2.0)


#: Queries: the crawl's pages and lists.
QUERY_RETRY = RetryPolicy(max_attempts=8)
#: Ten attempts per file, as dandi-cli gives each file.
DOWNLOAD_RETRY = RetryPolicy(max_attempts=10)


__all__ = ["DOWNLOAD_RETRY", "QUERY_RETRY", "RetryPolicy", "parse_retry_after", "retry_delay"]

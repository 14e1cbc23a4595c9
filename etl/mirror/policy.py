"""What to do about a file that is already there, and when to try a download again.

The retry decision is the RMA client's (``ctmirror.rma.retry``): transient errors (no response,
429, 5xx, a body cut short) are retried with jittered exponential backoff, honouring
``Retry-After``; terminal ones (4xx, a checksum or content mismatch) are not. Downloads get
more attempts than queries because each attempt resumes where the last one stopped.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import StrEnum

from ctmirror.errors import ApiStatusError
from ctmirror.rma.retry import RetryPolicy, retry_delay

# Ten attempts, as dandi-cli gives each file.
DOWNLOAD_RETRY = RetryPolicy(max_attempts=10)


class Existing(StrEnum):
    """Policy for a target file that already exists.

    Only a verified download is ever moved onto a target, so an existing target was good when
    it was written; the modes differ in how much they re-check before trusting it.
    """

    SKIP = "skip"  # keep it if its size matches; hash it only when no sha256 is expected
    VERIFY = "verify"  # re-hash and re-check its content; download again on any mismatch
    OVERWRITE = "overwrite"  # always download again


def retry_wait(
    error: BaseException,
    attempt: int,
    policy: RetryPolicy = DOWNLOAD_RETRY,
    *,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to sleep before attempt ``attempt + 1`` after ``error``, or None to give up."""
    retry_after = error.retry_after if isinstance(error, ApiStatusError) else None
    return retry_delay(error, attempt, policy, retry_after=retry_after, rand=rand)


__all__ = ["DOWNLOAD_RETRY", "Existing", "retry_wait"]

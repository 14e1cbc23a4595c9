"""What to do about a file that is already there.

When to try a download again is ``ctmirror.rma.retry``'s to say (``DOWNLOAD_RETRY``), the same
policy as for queries: transient errors (no response, 429, 5xx, a body cut short) are retried
with jittered exponential backoff, honouring ``Retry-After``; terminal ones (4xx, a checksum or
content mismatch) are not.
"""

from __future__ import annotations

from enum import StrEnum

from ctmirror.rma.retry import DOWNLOAD_RETRY


class Existing(StrEnum):
    """Policy for a target file that already exists.

    Only a verified download is ever moved onto a target, so an existing target was good when
    it was written; the modes differ in how much they re-check before trusting it.
    """

    SKIP = "skip"  # keep it if its size matches; hash it only when no sha256 is expected
    VERIFY = "verify"  # re-hash and re-check its content; download again on any mismatch
    OVERWRITE = "overwrite"  # always download again


__all__ = ["DOWNLOAD_RETRY", "Existing"]

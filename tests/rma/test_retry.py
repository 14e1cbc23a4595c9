from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from ctmirror.errors import (
    ApiTransportError,
    RmaError,
    TerminalApiStatusError,
    TransientApiStatusError,
)
from ctmirror.rma.retry import RetryPolicy, parse_retry_after, retry_delay

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, base_delay_s=1.0, max_delay_s=8.0, min_delay_s=0.5,
                     max_retry_after_s=120.0)


def _http_date(delta_s: float) -> str:
    return format_datetime(NOW + timedelta(seconds=delta_s), usegmt=True)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        (_http_date(30), 30.0),
        (_http_date(-1), 0.0),       # clock skew: go now
        (_http_date(-60), None),     # long past: ignore
        (_http_date(30 * 24 * 3600), None),  # a month ahead: ignore
        ("9999999999", None),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_transient_errors_back_off_exponentially_with_jitter() -> None:
    error = ApiTransportError("dropped")
    low = [retry_delay(error, attempt, POLICY, rand=lambda: 0.0) for attempt in range(1, 5)]
    high = [retry_delay(error, attempt, POLICY, rand=lambda: 1.0) for attempt in range(1, 5)]
    assert low == [0.5, 1.0, 2.0, 4.0]
    assert high == [1.0, 2.0, 4.0, 8.0]


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=20, base_delay_s=1.0, max_delay_s=8.0)
    assert retry_delay(ApiTransportError("x"), 15, policy, rand=lambda: 1.0) == 8.0


def test_retry_after_is_honoured_within_bounds() -> None:
    error = TransientApiStatusError("429", status_code=429)
    assert retry_delay(error, 1, POLICY, retry_after=7.0) == 7.0
    # Retry-After: 0 must not become a tight loop.
    assert retry_delay(error, 1, POLICY, retry_after=0.0) == 0.5
    assert retry_delay(error, 1, POLICY, retry_after=86400.0) == 120.0


def test_gives_up_after_max_attempts() -> None:
    error = TransientApiStatusError("503", status_code=503)
    assert retry_delay(error, 4, POLICY, rand=lambda: 0.0) == 8.0 / 2
    assert retry_delay(error, 5, POLICY) is None


@pytest.mark.parametrize(
    "error",
    [
        RmaError("success:false"),
        TerminalApiStatusError("404", status_code=404),
        ValueError("a bug"),
    ],
)
def test_terminal_errors_are_never_retried(error: Exception) -> None:
    assert retry_delay(error, 1, POLICY) is None


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)

"""The failure notification: one JSON POST to the webhook URL of ``CTMIRROR_RUN__NOTIFY_URL``
(``RunSettings.notify_url``) when a sync fails, whichever way it runs (Prefect flow, scheduled
deployment, ``--no-prefect``).

The body is ``{"text": ..., "sync_id", "status": "failed", "reason", "root", "api_base"}``:
``text`` is what Slack's and Teams' incoming webhooks show; the other fields are for a lab's
own endpoint. A notification that cannot be delivered is logged, never raised: the sync's own
error is the one to report.
"""

from __future__ import annotations

import logging
import socket

import httpx

from ctmirror.settings import Settings, SyncConfig

log = logging.getLogger(__name__)


def notify_url(config: SyncConfig) -> str | None:
    """The webhook URL: the config's, else the environment's (a scheduled run's parameters,
    stored by the Prefect server, leave it out as a secret)."""
    secret = config.run.notify_url or Settings().run.notify_url
    return (secret.get_secret_value() or None) if secret is not None else None


def failure_message(config: SyncConfig, sync_id: str | None, reason: str) -> dict[str, object]:
    line = (reason.strip().splitlines() or ["unknown error"])[0][:500]
    return {
        "text": f"ctmirror sync {sync_id or '(not started)'} failed on {socket.gethostname()} "
                f"({config.store or config.root}): {line}",
        "sync_id": sync_id,
        "status": "failed",
        "reason": line,
        "root": config.store or str(config.root),
        "api_base": config.api_base,
    }


def notify_failure(config: SyncConfig, sync_id: str | None, reason: str) -> bool:
    """POST the failure to the webhook, if one is set; True if it answered 2xx."""
    url = notify_url(config)
    if url is None:
        return False
    try:
        response = httpx.post(url, json=failure_message(config, sync_id, reason), timeout=10.0)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("could not deliver the failure notification: %s", type(exc).__name__)
        return False
    return True

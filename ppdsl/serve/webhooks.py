"""Actions as signed webhooks (the Standard Webhooks scheme, through the
`standardwebhooks` package): one POST per action, whose `webhook-id` is the
event's message id and the action's index, so an event that is retried
redelivers with the same id and the receiver can drop the repeat. A non-2xx
answer or a time-out fails the action, and the flow's `on failure` runs."""

from __future__ import annotations

import binascii
import json
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Optional

import httpx
from standardwebhooks.webhooks import Webhook

from .metrics import WEBHOOKS

log = logging.getLogger("ppdsl.serve")


class WebhookError(ValueError):
    """A webhook setting that can't be used; the message says why."""


class Sender:
    """Delivers actions to one URL. Called from the committer's thread only."""

    def __init__(self, url: str, secret: Optional[str], timeout: float):
        if not url.startswith(("http://", "https://")):
            raise WebhookError(f"--webhook must be an http:// or https:// URL, got {url[:60]!r}")
        self.url = url
        try:
            self._signer = Webhook(secret) if secret else None
        except (binascii.Error, ValueError):
            raise WebhookError(
                "--webhook-secret must be base64, optionally after whsec_ (as Standard Webhooks secrets are)"
            )
        self._client = httpx.Client(timeout=timeout)

    def deliver(self, envelope: Any, action: dict[str, Any], index: int) -> bool:
        """POST one action; True when the receiver answered 2xx in time."""
        base = envelope.message_id if envelope.message_id is not None else "msg_" + uuid.uuid4().hex
        webhook_id = f"{base}-{index}"
        body = json.dumps(
            {
                "type": f"action.{action.get('type', 'unknown')}",
                "visitor_id": envelope.visitor_id,
                "message_id": envelope.message_id,
                "action": action,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        now = time.time()
        headers = {"content-type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": str(int(now))}
        if self._signer is not None:
            moment = datetime.fromtimestamp(int(now), tz=timezone.utc)
            headers["webhook-signature"] = self._signer.sign(webhook_id, moment, body)
        try:
            answer = self._client.post(self.url, content=body.encode("utf-8"), headers=headers)
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.HTTPError as exc:
            outcome = "error"
            log.warning("webhook %s: %s", webhook_id, type(exc).__name__)
        else:
            outcome = "ok" if 200 <= answer.status_code < 300 else f"http_{answer.status_code // 100}xx"
        WEBHOOKS.labels(outcome=outcome).inc()
        if outcome != "ok":
            log.warning("webhook %s failed (%s): the action fails and on failure runs", webhook_id, outcome)
        return outcome == "ok"

    def close(self) -> None:
        self._client.close()

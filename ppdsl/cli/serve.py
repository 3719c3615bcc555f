"""`ppdsl serve`: the ingest service (ppdsl/serve/) under uvicorn. This module
turns options into a Config, checks them before the server starts, and says
in one line what is wrong or missing."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import click

from .common import FILE
from .run_options import STORE_URLS

if TYPE_CHECKING:
    from ..serve.config import Config

_RATE = re.compile(r"\s*([0-9]+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*")
_UNITS = {"s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour"}


def rate_notation(text: Optional[str]) -> Optional[str]:
    """--rate-limit N/s (or N/min, N/hour) in the notation of `limits`."""
    if text is None:
        return None
    match = _RATE.fullmatch(text)
    if match is None or int(match[1]) == 0:
        raise click.BadParameter("give a positive count per unit, e.g. 100/s or 600/min", param_hint="--rate-limit")
    return f"{match[1]}/{_UNITS.get(match[2], match[2])}"


@click.command()
@click.argument("flow", type=FILE)
@click.option(
    "--store",
    default="visitors.db",
    show_default=True,
    metavar="URL",
    help=f"Visitor state: {STORE_URLS}. An SQLite file is created if missing; memory: is gone at exit.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--write-key",
    "write_keys",
    multiple=True,
    metavar="KEY",
    help="Accept only requests with this key (Basic auth user name, or writeKey in the body). Repeatable.",
)
@click.option("--webhook", metavar="URL", help="POST every action here, signed with Standard Webhooks headers.")
@click.option(
    "--webhook-secret",
    metavar="S",
    envvar="PPDSL_WEBHOOK_SECRET",
    help="The signing secret (base64, optionally whsec_...); also $PPDSL_WEBHOOK_SECRET.",
)
@click.option(
    "--webhook-timeout",
    type=click.FloatRange(0.05, 60),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="An action whose webhook has not answered 2xx by then fails, and on failure runs.",
)
@click.option(
    "--admin-token",
    metavar="T",
    envvar="PPDSL_ADMIN_TOKEN",
    help="Turns on GET /v1/visitors/{id} for Authorization: Bearer T; also $PPDSL_ADMIN_TOKEN.",
)
@click.option("--rate-limit", metavar="N/s", help="Requests per write key (or client address) per second; 429 past it.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="uvicorn worker processes.")
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="ADDR",
    help="A load balancer's address (or CIDR, or *) whose X-Forwarded-For names the client: "
    "--rate-limit without a write key then counts browsers, not the balancer. Repeatable.  [default: 127.0.0.1]",
)
@click.option("--log-json", is_flag=True, help="Log one JSON line per request (and every message as JSON).")
@click.option(
    "--reload/--no-reload", "watch", default=True, show_default=True, help="Reload the flow when its file changes."
)
def serve(
    flow: Path,
    store: str,
    host: str,
    port: int,
    write_keys: tuple[str, ...],
    webhook: Optional[str],
    webhook_secret: Optional[str],
    webhook_timeout: float,
    admin_token: Optional[str],
    rate_limit: Optional[str],
    workers: int,
    trusted_proxies: tuple[str, ...],
    log_json: bool,
    watch: bool,
) -> None:
    """Serve FLOW over HTTP: browsers post events, visitors' state is kept in
    the store, and the flows' actions go to the webhook.

    \b
    Endpoints: POST /v1/track, GET / (a demo page), /ppmatc.js (the tracker),
    /healthz, /metrics, /v1/visitors/{id} (with --admin-token).

    \b
    Examples:
        ppdsl serve examples/lead_routing.ppflow
        ppdsl serve lead.ppflow --store visitors.db --write-key k1 --webhook https://crm.example/hook
        ppdsl serve lead.ppflow --store postgresql://ppdsl@db/ppdsl --host 0.0.0.0 --trusted-proxy 10.0.0.0/8
    """
    from ..serve import missing_extra

    missing = missing_extra()
    if missing is not None:
        click.echo(
            f"error: ppdsl serve needs the serve extra ({missing} is missing): pip install 'ppdsl[serve]'", err=True
        )
        sys.exit(2)
    if webhook_secret and not webhook:
        raise click.UsageError("--webhook-secret signs webhooks: give --webhook URL too")
    if workers > 1 and store == "memory:":
        raise click.UsageError("--workers > 1 needs a shared store: give --store visitors.db (memory: is per process)")
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ppdsl-metrics-")
    from ..serve.config import Config

    config = Config(
        flow=os.path.abspath(flow),
        store=store,
        write_keys=list(write_keys),
        webhook=webhook,
        webhook_secret=webhook_secret,
        webhook_timeout=webhook_timeout,
        admin_token=admin_token,
        rate_limit=rate_notation(rate_limit),
        log_json=log_json,
        watch=watch,
    )
    _check(config)
    config.to_env()
    import uvicorn

    try:
        uvicorn.run(
            "ppdsl.serve.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            forwarded_allow_ips=",".join(trusted_proxies) or "127.0.0.1",
            access_log=False,  # --log-json writes one line per request; by default there is none
            timeout_keep_alive=5,
            limit_concurrency=2048,
            log_level="info",
        )
    finally:
        if metrics_dir is not None:  # the workers' metric files
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _check(config: Config) -> None:
    """Load the flow, open the store and the webhook settings once, so a
    mistake is one message here instead of a failure in every worker."""
    from ..serve.flow import FlowError, load_flow
    from ..serve.webhooks import Sender, WebhookError
    from ..store import StoreError, open_store

    try:
        load_flow(config.flow)
    except FlowError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    try:
        open_store(config.store).close()
    except StoreError as exc:  # one line, as replay and visitors say it (the password masked)
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if config.webhook:
        try:
            Sender(config.webhook, config.webhook_secret, config.webhook_timeout).close()
        except WebhookError as exc:
            raise click.UsageError(str(exc)) from None

"""`socialsla ingest`: the webhook gateway, from Meta's, X's and Chatwoot's webhooks to the input topics."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from typing import Any

from socialsla.cli.startup import port_taken, read_settings, settings_epilog, topics_ready
from socialsla.stream.settings import Settings

#: What a gateway with nothing configured is told to set.
PLATFORM_SETTINGS = (
    "SOCIALSLA_META_APP_SECRET (with SOCIALSLA_META_VERIFY_TOKEN), SOCIALSLA_X_CONSUMER_SECRET, "
    "SOCIALSLA_CHATWOOT_SECRET or SOCIALSLA_INGEST_TOKEN"
)


class _Quieter(logging.Filter):
    """The Kafka client logs a failed connection ten times a second while its broker is away; the
    same message once every `every_s` says as much, and leaves the log readable."""

    def __init__(self, every_s: float = 30.0) -> None:
        super().__init__()
        self.every_s = every_s
        self.last: dict[object, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka"):
            return True
        now = time.monotonic()
        if now - self.last.get(record.msg, -self.every_s) < self.every_s:
            return False
        self.last[record.msg] = now
        return True


def _ingest(args: argparse.Namespace) -> int:
    from socialsla.ingest.names import NamesError, load_names
    from socialsla.ingest.platforms import platforms

    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Quieter())
    settings = read_settings()
    try:
        names = load_names(settings.ingest_accounts)
    except NamesError as exc:
        print(
            "socialsla ingest: SOCIALSLA_INGEST_ACCOUNTS:\n  " + str(exc).replace("\n", "\n  "),
            file=sys.stderr,
        )
        return 1
    served = platforms(settings, names)
    if not served:
        print(f"socialsla ingest: no platform to serve: set {PLATFORM_SETTINGS}", file=sys.stderr)
        return 1
    if port_taken(settings.ingest_host, settings.ingest_port, "ingest", "webhooks", "SOCIALSLA_INGEST_PORT"):
        return 1
    if not asyncio.run(topics_ready(settings, "ingest", settings.broker_wait)):
        return 1
    import uvloop  # deferred: the offline commands must not pay for its import

    uvloop.run(_serve(settings, served))  # the worker's loop too; the gateway is CPU-bound on one core
    print("socialsla ingest: stopped", file=sys.stderr, flush=True)
    return 0


async def _serve(settings: Settings, served: dict[str, Any]) -> None:
    from prometheus_client import CollectorRegistry

    from socialsla.ingest.gateway import Gateway, run_gateway
    from socialsla.ingest.producer import Producer

    producer = Producer(settings)
    await producer.start()
    gateway = Gateway(settings, served, producer, CollectorRegistry())
    await run_gateway(settings, gateway, lambda line: print(line, file=sys.stderr, flush=True))


def add_ingest_command(commands: Any) -> None:
    """Add `ingest` to the top-level parser."""
    ingest = commands.add_parser(
        "ingest",
        help="receive Meta's, X's and Chatwoot's webhooks and produce their events to Kafka",
        description="An HTTP gateway for the networks' webhooks: each delivery's signature is checked, "
        "its items mapped to socialsla's events and produced to the input topics, and the delivery "
        "answered 200 only once Kafka has acknowledged them (503 with Retry-After otherwise, so the "
        "platform sends it again). Paths: POST /meta (and GET /meta, Meta's subscription check), "
        "POST /x (and GET /x, X's CRC check), POST /chatwoot, POST /events (JSON Lines of our own "
        "events, with a bearer token); GET /healthz and /metrics. A platform is served only when its "
        "secret is set. Stateless: run as many as you like behind one address. "
        "Configured by environment variables only; see docs/ingest.md.",
        epilog=settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ingest.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])
    ingest.set_defaults(run=_ingest)

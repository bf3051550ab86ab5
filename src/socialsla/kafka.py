"""Kafka plumbing shared by the worker and the traffic tools: client options and topics.

Kept apart from the Faust app so that `produce` and `generate` need no Faust.
No code here or elsewhere re-hashes keys to find a partition: table rows carry
theirs in the key (`rows.py`), whatever partitioner the upstream used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import sys
import time
from collections.abc import Iterator
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from socialsla import rows
from socialsla.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka connection options, TLS and SASL passed through from the settings."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
    if settings.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password
    return options


#: Waits at least this long are announced: a worker starting before its broker says why it is quiet.
_SAY_WAITING_AFTER_S = 5.0


class TopicsError(Exception):
    """The topics cannot be used as they are (or the broker cannot be reached); the message says why."""


class _Errors(logging.Handler):
    """Collects aiokafka's error lines: its exceptions only say "Unable to bootstrap", its log says why."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def _aiokafka_errors() -> Iterator[_Errors]:
    """aiokafka's error lines while connecting, kept from the terminal (the caller says it in one line)."""
    logger = logging.getLogger("aiokafka")
    errors = _Errors()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(errors)
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    try:
        yield errors
    finally:
        logger.removeHandler(errors)
        logger.setLevel(level)
        logger.propagate = propagate


def _refused_login(lines: list[str]) -> str | None:
    """The broker's answer when it refused our credentials, which no retry will change."""
    for line in reversed(lines):
        if "AuthenticationFailed" in line or "Authentication failed" in line:
            return line.split(": ", 1)[1] if ": " in line else line
    return None


async def _started_admin(settings: Settings, wait_seconds: float) -> AIOKafkaAdminClient:
    """An admin client once a bootstrap broker answers, retrying for up to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        admin = AIOKafkaAdminClient(**client_options(settings))
        with _aiokafka_errors() as errors:
            try:
                await admin.start()
                return admin
            except KafkaConnectionError:
                await admin.close()
        refused = _refused_login(errors.lines)
        if refused is not None:
            raise TopicsError(
                f"Kafka at {settings.bootstrap_servers} refused the login: {refused}; check "
                "SOCIALSLA_SASL_USERNAME, SOCIALSLA_SASL_PASSWORD and SOCIALSLA_SASL_MECHANISM"
            )
        if not told and wait_seconds >= _SAY_WAITING_AFTER_S:
            told = True
            print(
                f"socialsla: no Kafka broker answers at {settings.bootstrap_servers} yet; "
                f"trying for up to {wait_seconds:.0f}s",
                file=sys.stderr,
                flush=True,
            )
        if time.monotonic() >= deadline:
            last = errors.lines[-1] if errors.lines else "no answer"
            raise TopicsError(
                f"no Kafka broker answers at {settings.bootstrap_servers}"
                + (f" (tried for {wait_seconds:.0f}s)" if wait_seconds >= 1 else "")
                + f"; last error: {last}; start one (deploy/kafka/kafka.sh start) or set "
                "SOCIALSLA_BOOTSTRAP_SERVERS"
            )
        await asyncio.sleep(1)


def changelog_topics(settings: Settings) -> list[str]:
    """The changelog topics of the worker's tables, named as Faust names them."""
    return [f"{settings.app_id}-{table}-changelog" for table in rows.TABLES]


async def ensure_topics(settings: Settings, wait_seconds: float = 30.0) -> None:
    """Create the four topics and the tables' changelogs when missing; refuse any not co-partitioned.

    This is the one place topics are made: the worker, `produce`, `generate` and
    `demo` all call it before anything is sent, and the project's broker does not
    auto-create topics, so a producer that comes first cannot leave a one-partition
    topic behind. The changelogs are made here too, before the worker subscribes:
    left to Faust, they were created at the worker's start, and a first table
    write could find one in the consumer's metadata with 0 partitions, which Faust
    takes for a partition mismatch and crashes the agent on (seen once in a full
    CI run: stage 2 lost its first batch until new outcomes arrived).
    """
    admin = await _started_admin(settings, wait_seconds)
    try:
        names = [settings.topic_posts, settings.topic_replies, settings.topic_outcomes]
        changelogs = changelog_topics(settings)
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, settings.partitions, settings.replication)
            for name in (*names, settings.topic_deadletter)
            if name not in existing
        ]
        missing += [
            # as Faust makes a table's changelog: compacted, one partition per input partition
            NewTopic(
                name, settings.partitions, settings.replication, topic_configs={"cleanup.policy": "compact"}
            )
            for name in changelogs
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
                await admin.create_topics(missing)
        names += changelogs
        # Just-created topics can describe with no partitions until metadata settles.
        counts: dict[str, int] = {}
        for _ in range(50):
            described = await admin.describe_topics(names)
            counts = {d["topic"]: len(d["partitions"]) for d in described}
            if all(counts.get(name) for name in names):
                break
            await asyncio.sleep(0.2)
        wrong = sorted((name, n) for name, n in counts.items() if n != settings.partitions)
        if wrong:
            found = ", ".join(f"{name} has {n}" for name, n in wrong)
            raise TopicsError(
                f"topics must have SOCIALSLA_PARTITIONS={settings.partitions} partitions to stay "
                f"co-partitioned, but {found}; a producer that ran before the topics were made may "
                "have had them auto-created: delete them (on the project's broker: "
                "deploy/kafka/kafka.sh wipe) or set SOCIALSLA_PARTITIONS to match"
            )
    except KafkaError as exc:
        raise TopicsError(f"cannot prepare topics on {settings.bootstrap_servers}: {exc}") from None
    finally:
        await admin.close()

"""Kafka plumbing shared by the worker and the traffic tools: client options and topics.

Kept apart from the Faust app so that `produce` and `generate` need no Faust.
No code here or elsewhere re-hashes keys to find a partition: stage 1 keeps a
store and a log partition per input partition (`thread_store.py`), whatever
partitioner the upstream used.
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
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from socialsla.stream.settings import Settings
from socialsla.stream.topics import BOARD_CONFIGS, Topics, log_problem, log_retention_ms


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


async def ensure_topics(settings: Settings, wait_seconds: float = 30.0) -> None:
    """Create the four topics, stage 1's log and the board's topic if missing; refuse any not co-partitioned.

    The worker's logs (`Topics.logs`) are made with the retention a replay needs,
    and an existing one that keeps less, or is compacted, is refused with the
    command that fixes it (`log_problem`).

    This is the one place topics are made: the worker, `produce`, `generate` and
    `demo` all call it before anything is sent, and the project's broker does not
    auto-create topics, so a producer that comes first cannot leave a one-partition
    topic behind. Stage 1's log is made here too, before the worker subscribes, so
    its first write finds it with all its partitions.
    """
    admin = await _started_admin(settings, wait_seconds)
    try:
        topics = Topics.of(settings)
        await _create_missing(admin, settings, topics)
        await _check_partitions(admin, settings, [*topics.inputs, *topics.logs])
        await _check_logs(admin, settings, topics)
    except KafkaError as exc:
        raise TopicsError(f"cannot prepare topics on {settings.bootstrap_servers}: {exc}") from None
    finally:
        await admin.close()


async def _create_missing(admin: AIOKafkaAdminClient, settings: Settings, topics: Topics) -> None:
    """Make the topics that are not there yet; another worker making one first is fine."""
    existing = set(await admin.list_topics())
    retention = {"retention.ms": str(log_retention_ms(settings)), "cleanup.policy": "delete"}
    missing = [
        NewTopic(name, settings.partitions, settings.replication,
                 topic_configs=retention if name in topics.logs else None)
        for name in (*topics.inputs, *topics.logs, topics.deadletter)
        if name not in existing
    ]  # fmt: skip
    if topics.board not in existing:  # one partition, compacted: the latest card per series
        missing.append(NewTopic(topics.board, 1, settings.replication, topic_configs=BOARD_CONFIGS))
    if missing:
        with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
            await admin.create_topics(missing)


async def _check_partitions(admin: AIOKafkaAdminClient, settings: Settings, names: list[str]) -> None:
    """Refuse co-partitioned topics that do not have SOCIALSLA_PARTITIONS partitions each."""
    counts: dict[str, int] = {}
    for _ in range(50):  # just-created topics can describe with no partitions until metadata settles
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


async def _check_logs(admin: AIOKafkaAdminClient, settings: Settings, topics: Topics) -> None:
    """Refuse a log topic that keeps too little, or is compacted (`topics.log_problem`)."""
    described: Any = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics.logs]
    )
    for response in described:
        for *_, name, entries in response.resources:
            problem = log_problem(settings, name, {key: value for key, value, *_ in entries})
            if problem is not None:
                raise TopicsError(problem)


async def events_held(settings: Settings) -> int:
    """How many messages the input topics hold now (end minus start offsets of every partition).

    Called after `ensure_topics`, which checked that each has `settings.partitions`.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**client_options(settings), request_timeout_ms=10_000)
    await consumer.start()
    try:
        tps = [
            TopicPartition(topic, partition)
            for topic in Topics.of(settings).inputs
            for partition in range(settings.partitions)
        ]
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


async def broker_reachable(servers: str) -> bool:
    """Whether any bootstrap broker accepts a TCP connection within a second."""
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1.0)
        except (TimeoutError, OSError):
            continue
        writer.close()
        return True
    return False

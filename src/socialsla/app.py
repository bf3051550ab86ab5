"""The Faust worker: thin glue between Kafka topics, two tables and the pure core.

Topics, keys and tables, and why:

* stage 1, agent `conversations`: reads `social.posts` + `social.replies` (one
  co-partitioned channel, key = conversation_id) in batches (`take_events`).
  Table `conversations` (key `account|channel|conversation_id`, value
  `Conversation` bytes) lives on the same partitions, because every event of a
  conversation arrives on one partition. Invalid events go to
  `social.deadletter` (original key and bytes, reason in a header). A batch reads
  each conversation it touches once, folds its events in memory, writes it back
  once and sends its whole summary once, grouped per series into messages to
  `social.outcomes` keyed `account|channel`: that is the re-keying, so stage 2's
  table is co-partitioned with its own input.
* stage 2, agent `series`: reads `social.outcomes`. Table `series` holds one row
  per conversation (`account|channel|id` -> [opened_at, first_reply_at]) and one
  per series (`account|channel` -> expired totals). The windows themselves are
  the in-memory tumbling buckets of `SeriesWindows`, rebuilt from the table when
  a partition is assigned and dropped when it is revoked; Prometheus reads them
  through the collector at scrape time.

A batch's events are acknowledged only after the batch is processed, so input
stays at-least-once. Faust's RocksDB store and changelog use the partition of
the "current event", which the agent sets to the event a row belongs to before
each read or write.

Only the agents write tables (Faust writes a table's changelog to the partition
of the event being processed), so housekeeping that deletes rows (conversation
purge, series expiry) runs inside the agents, a little per event.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import faust
from aiohttp import web
from faust.streams import _current_event
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from socialsla import conversation, transport, waits
from socialsla.clock import Clock, parse_clock
from socialsla.conversation import Conversation
from socialsla.events import MICROS, Event, InvalidEvent, decode
from socialsla.kafka import partition_of
from socialsla.ledger import Ledger, conversation_row, totals_row
from socialsla.metrics import PipelineMetrics, SlaCollector
from socialsla.outcome import SEPARATOR, Outcome, chunks, encode
from socialsla.outcome import decode as decode_outcomes
from socialsla.rules import Rule
from socialsla.settings import Settings
from socialsla.windows import LONGEST_US

log = logging.getLogger("socialsla")

#: Rows of the conversation table looked at for purging after each event.
_SWEEP_STEP = 8
#: How often each partition's purge sweep starts over.
_SWEEP_SECONDS = 600.0


@dataclass(slots=True)
class _Sweep:
    """A partition's walk over its conversation keys, looking for ones to purge."""

    keys: list[bytes] = field(default_factory=list)
    started: float = 0.0


@dataclass(slots=True)
class _Fold:
    """One conversation across a stage-1 batch: read once, folded in memory, written once."""

    state: Conversation
    event: Any  # the Faust event of the last item: its partition is the row's
    item: Event


@dataclass(slots=True)
class Pipeline:
    """The app and the state around it, handed to the CLI and to tests."""

    settings: Settings
    app: Any
    ledger: Ledger
    registry: CollectorRegistry
    metrics: PipelineMetrics
    clock: Clock
    loaded: set[int] = field(default_factory=set)
    # Partitions loaded by stage 2 outside a completed recovery, to load again once stable.
    reload: set[int] = field(default_factory=set)
    last_progress: float = field(default_factory=time.monotonic)
    stale: bool = False


class _App(faust.App):
    def _new_consumer(self) -> Any:
        return transport.install_consumer(super()._new_consumer())

    def _new_producer(self) -> Any:
        return transport.complete_flush(super()._new_producer())


def _at_partition_of(event: Any) -> None:
    """Make `event` Faust's current event in this task, for the table reads and writes that follow.

    Faust's RocksDB store and changelog use the partition of the current event.
    In a batch the stream's own notion of it is the last event taken, so the agent
    names the event each row belongs to. Only the task's context variable is set:
    `Stream._set_current_event` would also overwrite the stream's attribute, which
    the background filler of `take_events` reads to pair each value with its event.
    """
    _current_event.set(weakref.ref(event))


def _broker_url(settings: Settings) -> str:
    return "kafka://" + ";".join(s.strip() for s in settings.bootstrap_servers.split(","))


def _credentials(settings: Settings) -> Any:
    if settings.security_protocol.startswith("SASL"):
        context = None
        if settings.security_protocol == "SASL_SSL":
            context = ssl.create_default_context(
                cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
            )
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if settings.security_protocol == "SSL":
        return faust.SSLCredentials(
            ssl.create_default_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
        )
    return None


def build(settings: Settings, rules: tuple[Rule, ...], registry: CollectorRegistry | None = None) -> Pipeline:
    """Wire the Faust app, its agents, tables and the metrics around the pure core."""
    registry = registry or CollectorRegistry()
    clock = parse_clock(settings.clock)
    window_us = settings.response_window_us
    horizon_us = LONGEST_US + window_us
    partitions = settings.partitions
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = _App(
        settings.app_id,
        broker=_broker_url(settings),
        broker_credentials=_credentials(settings),
        store=settings.store,
        # One directory per app id: RocksDB offsets of another app's changelogs would not match.
        datadir=str(settings.data_dir / settings.app_id),
        topic_partitions=partitions,
        topic_replication_factor=settings.replication,
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        # Rebalances and shutdown wait for the events in flight, so no agent writes a table
        # whose partition was revoked or whose store was already closed.
        stream_wait_empty=True,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        producer_linger_ms=5,
        key_serializer="raw",
        value_serializer="raw",
    )
    raw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "partitions": partitions,
    }
    inputs = app.topic(settings.topic_posts, settings.topic_replies, **raw)
    outcomes_topic = app.topic(settings.topic_outcomes, **raw)
    deadletter_topic = app.topic(settings.topic_deadletter, **raw)
    schema: Any = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table: dict[str, Any] = {
        "default": None,
        "schema": schema,
        "key_type": bytes,
        "value_type": bytes,
        "partitions": partitions,
    }
    # Each table gets its own options mapping: Faust's RocksDB store pops keys from it.
    conversations = app.Table("conversations", options=settings.rocksdb_options(), **table)
    series_table = app.Table("series", options=settings.rocksdb_options(), **table)
    ledger = Ledger(window_us)
    metrics = PipelineMetrics(registry)
    pipeline = Pipeline(settings, app, ledger, registry, metrics, clock)
    registry.register(SlaCollector(ledger, rules, clock))
    sweeps: dict[int, _Sweep] = {}
    newest = [0]  # created_at of the newest accepted event
    # Series this worker has admitted since it started: the cardinality cap of SOCIALSLA_MAX_SERIES.
    admitted: set[str] = set()
    metrics.series_limit.set(settings.max_series)
    last_expiry: dict[str, float] = {}

    async def dead_letter(message: Any, reason: str, kind: str) -> None:
        headers = [
            ("reason", reason.encode()),
            ("source", f"{message.topic}/{message.partition}/{message.offset}".encode()),
        ]
        await waits.logged(
            deadletter_topic.send(key=message.key, value=message.value or b"", headers=headers),
            lambda: f"the Kafka client to take a dead letter for {settings.topic_deadletter}",
        )
        metrics.events.labels(kind, "invalid").inc()
        metrics.deadletters.inc()

    def sweep(partition: int, now_us: int) -> None:
        """Purge a few expired conversations of this partition (called inside the agent)."""
        state = sweeps.setdefault(partition, _Sweep())
        if not state.keys:
            if time.monotonic() - state.started < _SWEEP_SECONDS:
                return
            state.started = time.monotonic()
            state.keys = [
                key
                for key in list(conversations.keys())
                if partition_of(key.split(b"|", 2)[2], partitions) == partition
            ]
        for _ in range(min(_SWEEP_STEP, len(state.keys))):
            key = state.keys.pop()
            value = conversations.get(key)
            if value is not None and conversation.expired(Conversation.from_bytes(value), now_us, horizon_us):
                del conversations[key]
                metrics.expired.labels("conversations").inc()

    async def screen(message: Any, now_us: int) -> Event | None:
        """The event of a message, or None once it is dead-lettered or counted as late."""
        if message.value is None:
            await dead_letter(message, "empty message (tombstone)", "unknown")
            return None
        try:
            item = decode(message.value, now_us)
            if message.key != item.conversation_id.encode():
                raise InvalidEvent("Kafka key must be the conversation_id (one partition per thread)")
        except InvalidEvent as exc:
            await dead_letter(message, exc.reason, "unknown")
            return None
        series_name = item.account + SEPARATOR + item.channel
        if series_name not in admitted:
            if len(admitted) >= settings.max_series:
                metrics.series_rejected.inc()
                await dead_letter(
                    message,
                    f"series limit reached: {settings.max_series} account/channel pairs "
                    "(SOCIALSLA_MAX_SERIES)",
                    item.kind,
                )
                return None
            admitted.add(series_name)
            metrics.series_admitted.set(len(admitted))
        if item.created_at < now_us - horizon_us:
            metrics.events.labels(item.kind, "late").inc()
            return None
        return item

    @app.agent(inputs, name="conversations")
    async def stage1(stream: Any) -> None:
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            pipeline.last_progress = time.monotonic()
            now_us = clock.now_us()
            folds: dict[bytes, _Fold] = {}
            tally: Counter[tuple[str, str]] = Counter()
            last_of_partition: dict[int, Any] = {}
            for event in batch:
                item = await screen(event.message, now_us)
                if item is None:
                    continue
                key = SEPARATOR.join((item.account, item.channel, item.conversation_id)).encode()
                fold = folds.get(key)
                if fold is None:
                    # Faust's RocksDB store reads and writes the partition of the current event.
                    _at_partition_of(event)
                    stored = conversations.get(key)
                    previous = None if stored is None else Conversation.from_bytes(stored)
                else:
                    previous = fold.state
                state, duplicate = conversation.apply(previous, item, settings.count_automated)
                folds[key] = _Fold(state, event, item)
                tally[item.kind, "duplicate" if duplicate else "accepted"] += 1
                last_of_partition[event.message.partition] = event
                if item.created_at > newest[0]:
                    newest[0] = item.created_at
                    metrics.last_event.set(item.created_at / MICROS)
            by_series: dict[bytes, list[Outcome]] = {}
            for key, fold in folds.items():
                _at_partition_of(fold.event)
                # Written on duplicates too. After a SIGKILL the local RocksDB can be ahead of the
                # changelog (store writes are immediate, changelog sends are buffered), and the
                # redelivered event is then a duplicate here: skipping the write would leave the
                # changelog, and so any store rebuilt from it, without this state for good.
                conversations[key] = fold.state.to_bytes()
                # Re-sent on duplicates too: outcomes are idempotent, and a redelivery after a
                # crash may be the only chance to pass on a summary whose send was lost.
                item = fold.item
                result = Outcome(
                    item.account,
                    item.channel,
                    item.conversation_id,
                    fold.state.opened_at,
                    fold.state.first_reply_at,
                    item.created_at,
                )
                by_series.setdefault(result.key(), []).append(result)
            for series_key, results in by_series.items():
                for chunk in chunks(results):
                    await waits.logged(
                        outcomes_topic.send(key=series_key, value=encode(chunk)),
                        lambda: (
                            f"the Kafka client to take an outcome message for {settings.topic_outcomes} "
                            f"(its batch for the partition is full until the broker answers)"
                        ),
                    )
                metrics.outcomes_sent.inc(len(results))
            for (kind, outcome), count in tally.items():
                metrics.events.labels(kind, outcome).inc(count)
            for partition, event in last_of_partition.items():
                _at_partition_of(event)
                sweep(partition, now_us)

    def load(active: set[int]) -> None:
        """Rebuild the ledger of newly owned partitions from the stage-2 table."""
        fresh = active - pipeline.loaded
        if not fresh:
            return
        for key_bytes, value in list(series_table.items()):
            key = key_bytes.decode()
            series = SEPARATOR.join(key.split(SEPARATOR, 2)[:2])
            partition = partition_of(series.encode(), partitions)
            if partition in fresh:
                ledger.restore(partition, key, value)
        pipeline.loaded |= fresh
        log.info("socialsla: loaded partitions %s of %s", sorted(fresh), settings.topic_outcomes)

    def active_partitions() -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.topic_outcomes}

    @app.agent(outcomes_topic, name="series")
    async def stage2(stream: Any) -> None:
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            pipeline.last_progress = time.monotonic()
            for event in batch:
                message = event.message
                partition = message.partition
                if partition not in pipeline.loaded:
                    # An outcome of a partition not (or no longer) loaded: events taken
                    # before a rebalance can reach here after its revocation, while the
                    # table may still be recovering. Load what there is now, and load it
                    # again, whole, once no rebalance is under way.
                    load({partition})
                    pipeline.reload.add(partition)
                try:
                    results = decode_outcomes(message.value or b"")
                except ValueError as exc:
                    await dead_letter(message, str(exc)[:200], "unknown")
                    continue
                _at_partition_of(event)
                for outcome in results:
                    apply_outcome(partition, outcome)
                metrics.outcomes.inc(len(results))

    def apply_outcome(partition: int, outcome: Outcome) -> None:
        """Fold one outcome into the ledger and the table (the current event is its message)."""
        known = ledger.knows(partition, outcome.account, outcome.channel)
        # As in stage 1, an unchanged record is written again (when kept), so that a
        # changelog that fell behind the local store in a crash catches up on redelivery.
        if ledger.apply(partition, outcome) or outcome.opened_at is not None:
            row_key, row_value = conversation_row(outcome)
            series_table[row_key.encode()] = row_value
        series = ledger.series_for(partition, outcome.account, outcome.channel)
        if not known:
            # A series row from first sight on, so that a series with no opened
            # conversation yet (brand replies only) survives a handover too.
            totals_key, totals_value = totals_row(series)
            series_table[totals_key.encode()] = totals_value
        name = outcome.key().decode()
        if time.monotonic() - last_expiry.get(name, 0.0) >= settings.refresh_interval:
            last_expiry[name] = time.monotonic()
            dropped = ledger.expire(series, clock.now_us())
            if dropped:
                for conversation_id in dropped:
                    del series_table[f"{name}{SEPARATOR}{conversation_id}".encode()]
                totals_key, totals_value = totals_row(series)
                series_table[totals_key.encode()] = totals_value
                metrics.expired.labels("series").inc(len(dropped))

    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        for tp in args[0]:
            if tp.topic == settings.topic_outcomes:
                ledger.drop(tp.partition)
                pipeline.loaded.discard(tp.partition)

    app.on_partitions_revoked.connect(on_revoked)

    async def on_recovered() -> None:
        # Faust calls this when a recovery has finished, so the table holds every row of the
        # partitions this worker now owns: rebuild their windows from it, whole.
        active = active_partitions()
        for partition in active:
            ledger.drop(partition)
        pipeline.loaded -= active
        load(active)

    series_table.on_recover(on_recovered)

    inputs_of = frozenset((settings.topic_posts, settings.topic_replies, settings.topic_outcomes))

    @app.timer(interval=settings.refresh_interval)
    async def housekeeping() -> None:
        active = active_partitions()
        for partition in list(ledger.partitions):
            if partition not in active:
                ledger.drop(partition)
                pipeline.loaded.discard(partition)
        if not app.rebalancing:
            # Faust reports a finished recovery only when a rebalance had changelogs to
            # replay; after one with nothing to replay, owned partitions are loaded here.
            again = pipeline.reload & active
            pipeline.reload.clear()
            for partition in again:
                ledger.drop(partition)
            pipeline.loaded -= again
            load(active)
            for tp, offset in await transport.guard_of(app.consumer).heal(time.monotonic()):
                log.warning(
                    "socialsla: %s[%d] read again from its committed offset %d: a message below "
                    "acknowledged ones was never processed",
                    tp.topic,
                    tp.partition,
                    offset,
                )
                metrics.rereads.inc()
        lags = list(_lags(app, inputs_of))
        metrics.set_lag(lags)
        reachable = await _broker_reachable(settings.bootstrap_servers)
        metrics.broker_reachable.set(1 if reachable else 0)
        behind = any(lag > 0 for _, _, lag in lags)
        idle = time.monotonic() - pipeline.last_progress > settings.stale_after
        pipeline.stale = not reachable or (behind and idle)
        metrics.stale.set(1 if pipeline.stale else 0)

    @app.task
    async def serve_metrics() -> None:
        await _serve(pipeline)

    return pipeline


async def _broker_reachable(servers: str) -> bool:
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


def _lags(app: Any, topics: frozenset[str]) -> Iterator[tuple[str, int, int]]:
    """(topic, partition, lag) of the owned partitions of the topics the agents read.

    Only those: changelog partitions are read during recovery only, so their read
    position never moves afterwards and a caught-up worker looked hundreds of
    thousands of records behind. A partition with nothing read since the
    assignment (a restart with a kept store, an idle topic) is as far as its
    committed offset, not at 0.
    """
    consumer = app.consumer
    for tp in app.assignor.assigned_actives():
        if tp.topic not in topics:
            continue
        try:
            high = consumer.highwater(tp)
        except Exception:
            continue
        if high is None:
            continue
        read = consumer._read_offset.get(tp)
        position = max(read + 1 if read is not None else 0, consumer._committed_offset.get(tp) or 0)
        yield tp.topic, tp.partition, max(0, high - position)


async def _serve(pipeline: Pipeline) -> None:
    """/metrics and /healthz on the configured address; read-only, nothing else."""

    async def scrape(request: web.Request) -> web.Response:
        body = generate_latest(pipeline.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health(request: web.Request) -> web.Response:
        app = pipeline.app
        body = {
            "status": "stale" if pipeline.stale else "rebalancing" if app.rebalancing else "ok",
            "stale": pipeline.stale,
            "owned_partitions": sorted(pipeline.loaded),
            "series": sum(1 for _ in pipeline.ledger),
            "seconds_since_progress": round(time.monotonic() - pipeline.last_progress, 3),
        }
        return web.json_response(body)

    server = web.Application()
    server.router.add_get("/metrics", scrape)
    server.router.add_get("/healthz", health)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, pipeline.settings.web_host, pipeline.settings.web_port)
    await site.start()
    log.info(
        "socialsla: metrics on http://%s:%d/metrics",
        pipeline.settings.web_host,
        pipeline.settings.web_port,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

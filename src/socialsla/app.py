"""The Faust worker, wired: topics, the two agents and their state, housekeeping, the HTTP endpoints.

Each piece lives in its own module; this one only connects them:

* `handlers.py`: the two stages' handlers (stage 1 `ThreadsStage`, stage 2
  `SeriesStage`): records in, records to send out, around `fold.fold` and `Ledger.apply`;
* `faust_agents.py`: the agents that run them, with their header comment on topics,
  keys and tables;
* `thread_store.py` and `core/ledger.py`: stage 1's thread states and stage 2's series;
* `partitions.py`: which partitions of both this worker has, loaded from their logs on
  assignment and dropped on revocation;
* `housekeeping.py`: housekeeping rounds (totals kept in retention, stuck partitions, lag,
  staleness), and the `Health` that `/healthz` reports;
* `web.py`: `/metrics` for Prometheus, `/healthz`, `/runbooks`, `/waiting` (who is waiting on
  this worker's series), and the on-call page at `/` with the deployment's board behind it
  (`/board`);
* `board.py`: that board, every worker's series posted to and read back from the board topic;
* `workarounds.py`: every workaround of a Faust behaviour, each named and pinned by a test.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import ssl
from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from socialsla.core.calendars import Calendar
from socialsla.core.clock import Clock, parse_clock
from socialsla.core.ledger import Ledger
from socialsla.core.rules import Rule
from socialsla.serve import board, web
from socialsla.serve.collector import SlaCollector
from socialsla.stream import kafka, readback, workarounds
from socialsla.stream.counters import PipelineMetrics
from socialsla.stream.faust_agents import Outbox, StageAgent
from socialsla.stream.handlers import Admission, SeriesStage, ThreadsStage
from socialsla.stream.housekeeping import Health, Housekeeping
from socialsla.stream.partitions import Partitions
from socialsla.stream.settings import Settings
from socialsla.stream.shutdown import Deadline
from socialsla.stream.thread_store import ThreadStore
from socialsla.stream.topics import Topics


@dataclass(slots=True)
class Pipeline:
    """The app and the state around it, handed to the CLI and to tests."""

    settings: Settings
    app: Any
    ledger: Ledger
    registry: CollectorRegistry
    metrics: PipelineMetrics
    clock: Clock
    partitions: Partitions
    threads: ThreadStore
    health: Health


class _App(faust.App):
    """Faust's app, whose consumer and producer get the workarounds of workarounds.py as they are made.

    Faust builds both on first use through these two factories (no public hook
    exists); `test_canary_faust_builds_its_clients_through_the_apps_factories`
    fails when it stops.
    """

    #: The consumer's commit guard, once Faust has made the consumer.
    commit_guard: workarounds.CommitGuard | None = None

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        self.commit_guard = workarounds.install_consumer(consumer)
        return consumer

    def _new_producer(self) -> Any:
        return workarounds.complete_flush(super()._new_producer())


class Worker(faust.Worker):
    """Faust's worker, ending within its deadline once asked to stop, on SIGHUP too."""

    def __init__(self, app: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.deadline = deadline

    def install_signal_handlers(self) -> None:
        """Faust's SIGINT and SIGTERM handlers, and SIGHUP taken as SIGTERM.

        Faust leaves SIGHUP (a closed terminal, a lost SSH session) at its default,
        which ended the worker at once, without its last commit.
        """
        super().install_signal_handlers()
        self.loop.add_signal_handler(signal.SIGHUP, os.kill, os.getpid(), signal.SIGTERM)

    def on_setup_root_logger(self, logger: Any, level: int) -> None:
        """No terminal spinner: for its sake Faust set the root logger to DEBUG.

        At levels from WARN up Faust's worker spins a spinner on every log record
        and, for that, set the root logger to DEBUG (its own `on_setup_root_logger`),
        so every debug call in Faust and aiokafka built a record that was then
        dropped: a quarter of the CPU in a profile. This hook is Faust's public one.
        """
        self.spinner = None

    async def stop(self) -> None:
        """Stop as Faust does, within the deadline: a stop can wait on a broker that is gone."""
        self.deadline.arm()
        await super().stop()


#: Bytes the worker's consumer fetches per partition at a time.
FETCH_BYTES = 4 << 20

#: Input events Faust may hold for stage 1 beyond the batch in hand (its stream buffer),
#: instead of Faust's 4,096. Faust stops fetching a partition whose buffer is 80% full and
#: starts again at half: with 4,096, below one 4 MiB fetch (about 20,000 events), so under
#: a backlog the fetcher kept stopping and starting and the worker waited on it. 1.31x in
#: one bench run (BENCHMARKS.md, "What closed the gap"); 34-42 MiB more RSS there. Stage 2's
#: input keeps Faust's size: its messages carry dozens of outcomes each.
INPUT_BUFFER = 65_536


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


def _app(settings: Settings) -> Any:
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return _App(
        settings.app_id,
        broker=_broker_url(settings),
        broker_credentials=_credentials(settings),
        datadir=str(settings.data_dir / settings.app_id),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        # Faust gives an app without changelog tables aiokafka's round-robin assignor, which
        # splits posts[p] and replies[p] between workers, each with half of a thread; with
        # standby replicas it keeps its own co-partitioning assignor. No table, so no standby
        # is ever fetched: Faust hands Kafka standbys of changelog topics only (canary:
        # test_workarounds).
        table_standby_replicas=1,
        # Rebalances and shutdown wait for the events in flight, so no agent writes a table
        # whose partition was revoked or whose store was already closed.
        stream_wait_empty=True,
        # Bigger fetches per partition than Faust's 1 MiB (BENCHMARKS.md, "Tuned defaults").
        consumer_max_fetch_size=FETCH_BYTES,
        # A worker killed with SIGKILL holds its partitions until its session runs out; a
        # restarted one waits that long for them (Faust's 60 s default). The heartbeat runs in
        # the consumer's own thread, so a busy event loop does not starve it.
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.session_timeout / 5,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        producer_linger_ms=5,
        key_serializer="raw",
        value_serializer="raw",
    )


_RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


def assemble(
    settings: Settings,
    rules: tuple[Rule, ...],
    registry: CollectorRegistry | None = None,
    calendars: tuple[Calendar, ...] = (),
) -> Pipeline:
    """Wire the Faust app, its agents, their state and the metrics around the pure core."""
    registry = registry or CollectorRegistry()
    clock = parse_clock(settings.clock)
    topics = Topics.of(settings)
    app = _app(settings)
    threads = ThreadStore(settings, clock)
    ledger = Ledger(
        settings.response_window_us,
        int(settings.refresh_interval * 1_000_000),
        calendars,
        resolution_window_us=settings.resolution_window_us,
    )
    partitions = Partitions(
        kafka.client_options(settings),
        lambda: readback.since_ms(clock.now_us(), settings.horizon_us),
        [
            (threads, threads.log_topic, threads.topics),
            (ledger, topics.outcomes, frozenset({topics.outcomes})),
        ],
    )
    metrics = PipelineMetrics(registry, topics.inputs)
    collector = SlaCollector(ledger, rules, clock, settings.max_agents)
    registry.register(collector)
    health = Health()
    stage2, outbox = _agents(app, settings, topics, clock, threads, ledger, partitions, metrics, health)
    app.on_partitions_assigned.connect(partitions.on_assigned)
    app.on_partitions_revoked.connect(partitions.on_revoked)
    app.task(partitions.keep_loaded)
    app.timer(interval=settings.refresh_interval)(
        Housekeeping(app, settings, health, metrics, stage2, outbox).round
    )
    shared = _board(app, settings, topics, clock, ledger, partitions, rules)
    app.task(functools.partial(
        web.serve, settings.web_host, settings.web_port, registry, app, health, partitions, ledger, threads,
        collector, shared, settings.page_token,
    ))  # fmt: skip
    return Pipeline(settings, app, ledger, registry, metrics, clock, partitions, threads, health)


def _agents(
    app: Any, settings: Settings, topics: Topics, clock: Clock, threads: ThreadStore, ledger: Ledger,
    partitions: Partitions, metrics: PipelineMetrics, health: Health,
) -> tuple[SeriesStage, Outbox]:  # fmt: skip
    """The two stages' Faust agents on their topics, and the outbox they send through."""
    # faust.Topic takes the stream buffer's size; app.topic(maxsize=...) drops it.
    inputs = faust.Topic(
        app, topics=topics.inputs, partitions=settings.partitions, maxsize=INPUT_BUFFER, **_RAW
    )
    outcomes = app.topic(topics.outcomes, partitions=settings.partitions, **_RAW)
    deadletters = app.topic(topics.deadletter, partitions=settings.partitions, **_RAW)
    log = app.topic(topics.threads, partitions=settings.partitions, **_RAW)
    admission = Admission(settings, metrics)
    stage2 = SeriesStage(admission, metrics, ledger, partitions)
    outbox = Outbox(settings, deadletters, log, outcomes, partitions, threads)
    agents = (
        ("conversations", inputs, ThreadsStage(settings, admission, metrics, threads), threads),
        ("series", outcomes, stage2, ledger),
    )
    for name, topic, handler, state in agents:
        agent = StageAgent(settings, clock, handler, state, partitions, outbox, health.progress)
        app.agent(topic, name=name)(agent.run)
    return stage2, outbox


def _board(
    app: Any, settings: Settings, topics: Topics, clock: Clock, ledger: Ledger, partitions: Partitions,
    rules: tuple[Rule, ...],
) -> board.Board:  # fmt: skip
    """The on-call board: this worker's series posted to the board topic, every series read back from it."""
    shared = board.Board()
    board_topic = app.topic(topics.board, partitions=1, **_RAW)
    worker = f"{socket.gethostname()}:{settings.web_port}"

    async def post_board() -> None:
        # Only rebuilt partitions: evaluating series a replay is still filling would slow it down.
        at = clock.now_us()
        owned = ledger.existing(at, partitions.loaded(ledger))
        await board.post(board_topic, owned, at, rules, worker)

    app.timer(interval=board.PUBLISH_EVERY_S)(post_board)
    app.task(functools.partial(board.follow, kafka.client_options(settings), topics.board, shared))
    return shared

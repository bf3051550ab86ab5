"""Worker settings: read once at start from `SOCIALSLA_*` variables, validated, passed down.

No module reads the environment anywhere else. Every problem is collected and
reported together, so a misconfigured deployment is fixed in one go; secrets are
never printed (`describe` masks them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Final

from socialsla.core.clock import parse_clock
from socialsla.core.duration import parse_seconds
from socialsla.core.events import MICROS
from socialsla.core.stats import LONGEST_US
from socialsla.core.thread import Policy

PREFIX: Final = "SOCIALSLA_"
_TOPIC_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOSTPORT_RE: Final = re.compile(r"[^\s,:]+:\d{1,5}")
_SECRET: Final = {
    "sasl_password", "ingest_token", "meta_app_secret", "meta_verify_token", "x_consumer_secret",
    "chatwoot_secret", "page_token",
}  # fmt: skip
_APP_IDS_RE: Final = re.compile(r"\d{1,20}(,\d{1,20})*")
#: The page token: characters a URL's user:password part carries as they are.
_PAGE_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9._~-]{16,}")


class SettingsError(ValueError):
    """One or more settings are wrong; the message lists each, one per line."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a worker needs to know, with the defaults of the embedded demo."""

    bootstrap_servers: str = "127.0.0.1:9092"
    app_id: str = "socialsla"
    topic_posts: str = "social.posts"
    topic_replies: str = "social.replies"
    topic_outcomes: str = "social.outcomes"
    topic_deadletter: str = "social.deadletter"
    partitions: int = 4
    replication: int = 1
    store: str = "rocksdb://"
    data_dir: Path = Path("var/worker")
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    page_token: str | None = field(default=None, repr=False)  # a secret: never in a repr
    rules_file: Path | None = None
    response_window: str = "24h"
    #: S, the resolution window: a conversation resolved within it is resolved in time.
    resolution_window: str = "24h"
    count_automated: bool = False
    new_conversation_after: str | None = None
    refresh_interval: float = 5.0
    purge_interval: float = 600.0
    max_series: int = 1000
    max_agents: int = 10
    stale_after: float = 30.0
    broker_wait: float = 30.0
    shutdown_timeout: float = 20.0
    session_timeout: float = 10.0
    batch_size: int = 5000
    batch_seconds: float = 0.1
    store_memory_mib: int = 128
    clock: str = "system"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)  # a secret: never in a repr
    ssl_cafile: Path | None = None
    # The webhook gateway (`socialsla ingest`); a worker reads these too, so that one environment
    # may serve both, and ignores them.
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 6070
    ingest_timeout: str = "10s"
    ingest_max_bytes: int = 1 << 20
    ingest_accounts: Path | None = None
    ingest_token: str | None = field(default=None, repr=False)  # a secret: never in a repr
    meta_app_secret: str | None = field(default=None, repr=False)  # a secret: never in a repr
    meta_verify_token: str | None = field(default=None, repr=False)  # a secret: never in a repr
    meta_automated_app_ids: str | None = None
    x_consumer_secret: str | None = field(default=None, repr=False)  # a secret: never in a repr
    x_automated_app_ids: str | None = None
    chatwoot_secret: str | None = field(default=None, repr=False)  # a secret: never in a repr

    def rocksdb_options(self) -> dict[str, int]:
        """Memtable and block-cache sizes for each RocksDB partition store.

        Faust's defaults (3 x 64 MiB memtables and a 2 GiB cache per store) would
        let RSS grow with the events seen, store by store: one store per partition.
        The budget is split so that one worker owning every partition stays within
        it: half in two memtables, half in the block cache, at least 1 MiB each.
        """
        per_store = (self.store_memory_mib << 20) // self.partitions
        return {
            "write_buffer_size": max(1 << 20, per_store // 4),
            "max_write_buffer_number": 2,
            "block_cache_size": max(1 << 20, per_store // 2),
        }

    @property
    def response_window_us(self) -> int:
        """R in microseconds."""
        return round(parse_seconds(self.response_window) * MICROS)

    @property
    def resolution_window_us(self) -> int:
        """S in microseconds."""
        return round(parse_seconds(self.resolution_window) * MICROS)

    @property
    def new_conversation_after_us(self) -> int | None:
        """The silence that makes a follow-up a conversation of its own, in microseconds; None when off."""
        return parse_silence(self.new_conversation_after)

    @property
    def ingest_timeout_us(self) -> int:
        """How long the gateway waits for Kafka's acknowledgement before answering 503."""
        return round(parse_seconds(self.ingest_timeout) * MICROS)

    @property
    def automated_app_ids(self) -> dict[str, frozenset[str]]:
        """Per platform (`meta`, `x`), the app ids whose sends are the team's bots."""
        return {
            "meta": _app_ids(self.meta_automated_app_ids),
            "x": _app_ids(self.x_automated_app_ids),
        }

    @property
    def horizon_us(self) -> int:
        """7 days + R: older events and waits can no longer change a window."""
        return LONGEST_US + self.response_window_us

    @property
    def policy(self) -> Policy:
        """What counts as a reply and what silence starts a conversation."""
        return Policy(self.count_automated, self.new_conversation_after_us)

    def describe(self) -> list[tuple[str, str]]:
        """(variable, value) pairs for logs and --help, with secrets masked."""
        out = []
        for item in fields(self):
            value = getattr(self, item.name)
            shown = "***" if item.name in _SECRET and value else ("" if value is None else str(value))
            out.append((PREFIX + item.name.upper(), shown))
        return out


HELP: Final = {
    "bootstrap_servers": "Kafka brokers, host:port[,host:port]",
    "app_id": "Faust app id: consumer group and prefix of internal topics",
    "topic_posts": "inbound post events (key: conversation_id)",
    "topic_replies": "brand reply events (key: conversation_id)",
    "topic_outcomes": "thread outcomes for stage 2, and stage 2's totals (key: account|channel)",
    "topic_deadletter": "invalid events: original bytes, reason in headers",
    "partitions": "partitions of every topic the worker creates when missing (inputs, outcomes, logs)",
    "replication": "replication factor of created topics",
    "store": "where stage 1 keeps thread states: rocksdb:// (embedded RocksDB, on disk) or memory://",
    "data_dir": "where the RocksDB thread stores live (rebuilt from Kafka at each start)",
    "web_host": "address /metrics binds to (loopback unless set)",
    "web_port": "port of /metrics and /healthz",
    "page_token": "token the on-call page, /board and /waiting ask for (Bearer, or any user's basic-auth "
    "password; 16 or more of A-Z a-z 0-9 . _ ~ -); unset: open to whoever reaches web_port. /metrics "
    "and /healthz stay open",
    "rules_file": "TOML rule file (default: the Facebook very-responsive badge)",
    "response_window": "R: a post unanswered this long is missed (e.g. 24h)",
    "resolution_window": "S: a conversation resolved within this is resolved in time (e.g. 24h)",
    "count_automated": "let automated replies count as first replies (true/false)",
    "new_conversation_after": "silence after which a customer's next post is a new conversation, "
    "not a follow-up (e.g. 24h, Facebook's rule; default off)",
    "refresh_interval": "seconds between housekeeping rounds (expiry, lag)",
    "purge_interval": "seconds between purges of a partition's expired conversation rows",
    "max_series": "most account/channel pairs a worker admits; events of more are dead-lettered",
    "max_agents": "agents named per series on /metrics (the busiest over 7d); the rest pooled as other",
    "stale_after": "seconds without progress, while behind or cut off from Kafka, before data is stale",
    "broker_wait": "seconds a starting worker waits for its broker (a container, a restart) before it "
    "gives up",
    "shutdown_timeout": "seconds a worker may take to stop after SIGTERM, SIGINT or SIGHUP before it "
    "exits anyway (with or without a broker; below Kubernetes' 30 s grace period)",
    "session_timeout": "seconds without a heartbeat before Kafka gives a dead worker's partitions to "
    "others, and so how long a worker killed with SIGKILL waits for its own partitions on restart",
    "batch_size": "most events (stage 1) or outcome messages (stage 2) an agent takes at once",
    "batch_seconds": "longest an agent waits to fill a batch; adds at most this to freshness",
    "store_memory_mib": "RocksDB memtables and block cache of all of a worker's thread stores, in MiB",
    "clock": "system, or file:PATH holding the current time (tests, replays)",
    "security_protocol": "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    "sasl_mechanism": "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
    "sasl_username": "SASL user",
    "sasl_password": "SASL password (never printed)",
    "ssl_cafile": "CA bundle for SSL / SASL_SSL",
    "ingest_host": "address the webhook gateway (socialsla ingest) binds to (loopback unless set)",
    "ingest_port": "port of the webhook gateway: /meta, /x, /chatwoot, /events, /healthz, /metrics",
    "ingest_timeout": "how long the gateway waits for Kafka to acknowledge a delivery's events before "
    "answering 503 with Retry-After (the platform sends it again)",
    "ingest_max_bytes": "largest delivery body the gateway reads; a larger one gets 413",
    "ingest_accounts": 'TOML file naming platform accounts: "meta:PAGE_ID" = "acme" (default: the ids)',
    "ingest_token": "bearer token of the gateway's /events (our own event format); unset: /events is off",
    "meta_app_secret": "Meta app secret: checks X-Hub-Signature-256; unset: /meta is off",
    "meta_verify_token": "the verify token typed in Meta's webhook settings (the subscription handshake)",
    "meta_automated_app_ids": "comma-separated Meta app ids whose messages are the team's bots (automated)",
    "x_consumer_secret": "X app consumer secret: the CRC check and x-twitter-webhooks-signature; unset: "
    "/x is off",
    "x_automated_app_ids": "comma-separated X app ids whose messages are the team's bots (automated)",
    "chatwoot_secret": "Chatwoot webhook secret: checks X-Chatwoot-Signature; unset: /chatwoot is off",
}


def _app_ids(text: str | None) -> frozenset[str]:
    return frozenset() if not text else frozenset(part.strip() for part in text.split(","))


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{text!r} is not true or false")


def _whole(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None


def _seconds(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(f"expected a number of seconds (e.g. 5 or 0.5), got {text!r}") from None


def parse_silence(text: str | None) -> int | None:
    """`SOCIALSLA_NEW_CONVERSATION_AFTER` / `--new-conversation-after`: a duration, or off (None)."""
    if text is None or text.strip().lower() in ("", "off", "none"):
        return None
    return round(parse_seconds(text) * MICROS)


def from_env(env: Mapping[str, str]) -> Settings:
    """Build and validate settings from an environment mapping."""
    defaults = Settings()
    values: dict[str, object] = {}
    problems: list[str] = []
    known = {PREFIX + f.name.upper() for f in fields(Settings)}
    for name in sorted(env):
        if name.startswith(PREFIX) and name not in known:
            problems.append(f"{name}: unknown setting (known: see `socialsla worker --help`)")
    for item in fields(Settings):
        variable = PREFIX + item.name.upper()
        if variable not in env:
            continue
        raw = env[variable]
        default = getattr(defaults, item.name)
        try:
            if isinstance(default, bool):
                values[item.name] = _bool(raw)
            elif isinstance(default, int):
                values[item.name] = _whole(raw)
            elif isinstance(default, float):
                values[item.name] = _seconds(raw)
            elif item.name in ("data_dir", "rules_file", "ssl_cafile", "ingest_accounts"):
                values[item.name] = Path(raw) if raw else None
            else:
                values[item.name] = raw or None
        except ValueError as exc:
            problems.append(f"{variable}: {exc}")
    settings = Settings(**values)  # type: ignore[arg-type]
    problems.extend(_check(settings))
    if problems:
        raise SettingsError("\n".join(problems))
    return settings


#: Whole-number settings and the values they may take, ends included.
_WHOLE_RANGES: Final = {
    "partitions": (1, 1024), "replication": (1, 16), "web_port": (1, 65535), "max_agents": (1, 10_000),
    "max_series": (1, 1_000_000), "batch_size": (1, 100_000), "store_memory_mib": (16, 65_536),
    "ingest_port": (1, 65535), "ingest_max_bytes": (1024, 64 << 20),
}  # fmt: skip
#: Settings in seconds and the values they may take, ends included.
_SECONDS_RANGES: Final = {
    "stale_after": (1, 86_400), "broker_wait": (1, 3600), "shutdown_timeout": (1, 3600),
    "refresh_interval": (0.05, 3600), "purge_interval": (0.05, 86_400), "batch_seconds": (0.001, 10),
}  # fmt: skip
#: Settings that are durations, each checked by reading it (`response_window` -> `response_window_us`).
_DURATIONS: Final = ("response_window", "resolution_window", "new_conversation_after", "ingest_timeout")


def _check(s: Settings) -> list[str]:
    """Every problem of a set of settings whose values each read: their ranges, and how they go together."""
    return [*_kafka_problems(s), *_range_problems(s), *_reading_problems(s), *_security_problems(s),
            *_ingest_problems(s)]  # fmt: skip


def _kafka_problems(s: Settings) -> list[str]:
    problems = []
    servers = s.bootstrap_servers.split(",")
    if not all(_HOSTPORT_RE.fullmatch(server.strip()) for server in servers):
        problems.append(
            f"{PREFIX}BOOTSTRAP_SERVERS: expected host:port[,host:port], got {s.bootstrap_servers!r}"
        )
    for name in ("topic_posts", "topic_replies", "topic_outcomes", "topic_deadletter"):
        value = getattr(s, name)
        if not value or not _TOPIC_RE.fullmatch(value):
            problems.append(f"{PREFIX}{name.upper()}: {value!r} is not a valid Kafka topic name")
    if len({s.topic_posts, s.topic_replies, s.topic_outcomes, s.topic_deadletter}) < 4:
        problems.append(f"{PREFIX}TOPIC_*: the four topics must be distinct")
    if s.store not in ("rocksdb://", "memory://"):
        problems.append(f"{PREFIX}STORE: must be rocksdb:// or memory://, got {s.store!r}")
    return problems


def _range_problems(s: Settings) -> list[str]:
    problems = []
    for name, (low, high) in _WHOLE_RANGES.items():
        value = getattr(s, name)
        if not low <= value <= high:
            problems.append(f"{PREFIX}{name.upper()}: must be {low}-{high}, got {value}")
    for name, (bottom, top) in _SECONDS_RANGES.items():
        if not bottom <= getattr(s, name) <= top:
            problems.append(f"{PREFIX}{name.upper()}: must be {bottom:g}-{top:g} seconds")
    if not 6 <= s.session_timeout <= 300:
        # Kafka's group.min.session.timeout.ms is 6 s by default; its heartbeat goes every third of it.
        problems.append(f"{PREFIX}SESSION_TIMEOUT: must be 6-300 seconds (the broker refuses less than 6)")
    return problems


def _reading_problems(s: Settings) -> list[str]:
    """The settings that are checked by reading them: durations, the clock, the rules file's path."""
    problems = []
    for name in _DURATIONS:
        try:
            getattr(s, f"{name}_us")
        except ValueError as exc:
            problems.append(f"{PREFIX}{name.upper()}: {exc}")
    try:
        parse_clock(s.clock)
    except ValueError as exc:
        problems.append(f"{PREFIX}CLOCK: {exc}")
    if s.rules_file is not None and not s.rules_file.is_file():
        problems.append(f"{PREFIX}RULES_FILE: {s.rules_file} is not a file")
    return problems


def _security_problems(s: Settings) -> list[str]:
    problems = []
    if s.security_protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        problems.append(f"{PREFIX}SECURITY_PROTOCOL: unknown protocol {s.security_protocol!r}")
    if s.security_protocol.startswith("SASL"):
        if s.sasl_mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            problems.append(f"{PREFIX}SASL_MECHANISM: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
        if not s.sasl_username or not s.sasl_password:
            problems.append(f"{PREFIX}SASL_USERNAME and SASL_PASSWORD are required with SASL")
    if s.page_token is not None and not _PAGE_TOKEN_RE.fullmatch(s.page_token):
        # a short token is guessed, and a wall's URL must carry it as it is (no @ / : ? # % in it)
        problems.append(
            f"{PREFIX}PAGE_TOKEN: must be 16 or more of A-Z a-z 0-9 . _ ~ - (openssl rand -hex 16)"
        )
    return problems


def _ingest_problems(s: Settings) -> list[str]:
    """The gateway's settings that go together: app id lists, Meta's two secrets, the names file."""
    problems = []
    for name in ("meta_automated_app_ids", "x_automated_app_ids"):
        value = getattr(s, name)
        if value and not _APP_IDS_RE.fullmatch(value.replace(" ", "")):
            problems.append(
                f"{PREFIX}{name.upper()}: expected comma-separated app ids (digits), got {value!r}"
            )
    if bool(s.meta_app_secret) != bool(s.meta_verify_token):
        problems.append(
            f"{PREFIX}META_APP_SECRET and {PREFIX}META_VERIFY_TOKEN go together: Meta signs with the first "
            "and subscribes the webhook with the second"
        )
    if s.ingest_accounts is not None and not s.ingest_accounts.is_file():
        problems.append(f"{PREFIX}INGEST_ACCOUNTS: {s.ingest_accounts} is not a file")
    return problems

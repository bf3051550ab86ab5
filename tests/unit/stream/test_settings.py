"""Worker settings from SOCIALSLA_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from socialsla.core.events import MICROS
from socialsla.stream.settings import Settings, SettingsError, from_env


def test_defaults_are_the_embedded_demo() -> None:
    """With no variables, a worker talks to the local broker and binds to loopback."""
    settings = from_env({})
    assert settings == Settings()
    assert (settings.bootstrap_servers, settings.web_host) == ("127.0.0.1:9092", "127.0.0.1")
    assert settings.response_window_us == 24 * 3600 * 1_000_000


def test_values_are_typed() -> None:
    """Numbers, booleans and paths are converted from their text."""
    settings = from_env(
        {
            "SOCIALSLA_PARTITIONS": "8",
            "SOCIALSLA_COUNT_AUTOMATED": "yes",
            "SOCIALSLA_REFRESH_INTERVAL": "2.5",
            "SOCIALSLA_DATA_DIR": "/tmp/x",
            "SOCIALSLA_RESPONSE_WINDOW": "1h",
        }
    )
    assert (settings.partitions, settings.count_automated, settings.refresh_interval) == (8, True, 2.5)
    assert settings.data_dir == Path("/tmp/x")
    assert settings.response_window_us == 3600 * 1_000_000


def test_every_problem_is_reported_at_once() -> None:
    """Several bad settings give one error listing each of them."""
    with pytest.raises(SettingsError) as caught:
        from_env(
            {
                "SOCIALSLA_PARTITIONS": "many",
                "SOCIALSLA_STORE": "redis://",
                "SOCIALSLA_BOOTSTRAP_SERVERS": "localhost",
                "SOCIALSLA_RESPONSE_WINDOW": "soon",
                "SOCIALSLA_TOPIC_POSTS": "bad topic",
                "SOCIALSLA_CLOCK": "ntp",
                "SOCIALSLA_PORT": "1",
                "SOCIALSLA_STALE_AFTER": "half a minute",
            }
        )
    message = str(caught.value)
    for part in (
        "SOCIALSLA_PARTITIONS: expected a whole number, got 'many'",
        "SOCIALSLA_STALE_AFTER: expected a number of seconds (e.g. 5 or 0.5), got 'half a minute'",
        "SOCIALSLA_STORE: must be rocksdb:// or memory://",
        "SOCIALSLA_BOOTSTRAP_SERVERS: expected host:port",
        "SOCIALSLA_RESPONSE_WINDOW: 'soon' is not a duration",
        "SOCIALSLA_TOPIC_POSTS: 'bad topic' is not a valid Kafka topic name",
        "SOCIALSLA_CLOCK: clock must be 'system' or 'file:PATH'",
        "SOCIALSLA_PORT: unknown setting",
    ):
        assert part in message


def test_sasl_needs_credentials() -> None:
    """SASL without a mechanism and credentials is refused before any connection."""
    with pytest.raises(SettingsError, match="SASL_USERNAME and SASL_PASSWORD are required"):
        from_env({"SOCIALSLA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SOCIALSLA_SASL_MECHANISM": "PLAIN"})


def test_password_is_never_described() -> None:
    """describe() masks the SASL password."""
    settings = from_env(
        {
            "SOCIALSLA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "SOCIALSLA_SASL_MECHANISM": "SCRAM-SHA-256",
            "SOCIALSLA_SASL_USERNAME": "svc",
            "SOCIALSLA_SASL_PASSWORD": "hunter2",
        }
    )
    described = dict(settings.describe())
    assert described["SOCIALSLA_SASL_PASSWORD"] == "***"
    assert "hunter2" not in repr(described)


def test_missing_rules_file_is_refused(tmp_path: Path) -> None:
    """A rules file that does not exist is a settings error."""
    with pytest.raises(SettingsError, match="is not a file"):
        from_env({"SOCIALSLA_RULES_FILE": str(tmp_path / "none.toml")})


def test_batches_are_bounded() -> None:
    """A batch of no events, or a wait longer than freshness allows, is refused with the limits."""
    assert (from_env({"SOCIALSLA_BATCH_SIZE": "200"}).batch_size, Settings().batch_seconds) == (200, 0.1)
    with pytest.raises(SettingsError) as caught:
        from_env({"SOCIALSLA_BATCH_SIZE": "0", "SOCIALSLA_BATCH_SECONDS": "60"})
    assert "SOCIALSLA_BATCH_SIZE: must be 1-100000, got 0" in str(caught.value)
    assert "SOCIALSLA_BATCH_SECONDS: must be 0.001-10 seconds" in str(caught.value)


@pytest.mark.parametrize("partitions", [1, 4, 12, 1024])
@pytest.mark.parametrize("budget", [16, 128, 4096])
def test_rocksdb_memory_stays_within_the_budget(partitions: int, budget: int) -> None:
    """The table's store on every partition, memtables full and cache full, fits the budget.

    Below 1 MiB per part the floor wins; the budget is then exceeded by at most that floor.
    """
    options = Settings(partitions=partitions, store_memory_mib=budget).rocksdb_options()
    per_store = (
        options["write_buffer_size"] * options["max_write_buffer_number"] + options["block_cache_size"]
    )
    floor = 3 << 20
    assert partitions * per_store <= max(budget << 20, partitions * floor)
    assert partitions * per_store >= min(budget << 20, partitions * floor) * 0.99


def test_store_memory_is_bounded() -> None:
    """A budget too small for RocksDB to work in is refused."""
    with pytest.raises(SettingsError, match="STORE_MEMORY_MIB: must be 16-65536, got 8"):
        from_env({"SOCIALSLA_STORE_MEMORY_MIB": "8"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(None, None, id="unset-is-off"),
        pytest.param("off", None, id="off"),
        pytest.param("24h", 86_400 * MICROS, id="facebook-24h"),
        pytest.param("1h30m", 5_400 * MICROS, id="compound"),
        pytest.param("1d12h", 129_600 * MICROS, id="days-and-hours"),
    ],
)
def test_new_conversation_after_is_a_duration_or_off(raw: str | None, expected: int | None) -> None:
    """SOCIALSLA_NEW_CONVERSATION_AFTER reads durations with units (`90s`, `1h30m`, `1d12h`); unset or
    `off` keeps every later post a follow-up."""
    env = {} if raw is None else {"SOCIALSLA_NEW_CONVERSATION_AFTER": raw}
    settings = from_env(env)
    assert settings.new_conversation_after_us == expected
    assert settings.policy.new_conversation_after_us == expected


def test_a_bad_silence_is_named() -> None:
    """A silence that is not a duration is refused with the variable's name."""
    with pytest.raises(SettingsError, match="SOCIALSLA_NEW_CONVERSATION_AFTER: 'a day'"):
        from_env({"SOCIALSLA_NEW_CONVERSATION_AFTER": "a day"})


def test_the_resolution_window_is_a_duration_above_zero() -> None:
    """The resolution window S: 24h unless set; nonsense and 0 are refused with the setting's name."""
    assert Settings().resolution_window_us == 24 * 3600 * MICROS
    assert from_env({"SOCIALSLA_RESOLUTION_WINDOW": "8h"}).resolution_window_us == 8 * 3600 * MICROS
    for bad, says in (("soon", "'soon' is not a duration"), ("0s", "'0s' must be a positive duration")):
        with pytest.raises(SettingsError, match=f"SOCIALSLA_RESOLUTION_WINDOW: {says}"):
            from_env({"SOCIALSLA_RESOLUTION_WINDOW": bad})


@pytest.mark.parametrize(
    "token",
    ["short", "has a space in it!!", "sixteen-chars-é-x", "tab\tin-it-0123456789", "at@sign-0123456789",
     "a/slash/0123456789ab", "colon:0123456789abcd", "per%cent0123456789ab"],
)  # fmt: skip
def test_a_page_token_that_would_protect_badly_is_refused(token: str) -> None:
    """A short token is guessed; a wall's URL must be able to carry the token. (Empty is unset, as for any
    setting: the worker then says at start that the page is open.)"""
    with pytest.raises(SettingsError, match=r"PAGE_TOKEN: must be 16 or more of A-Z a-z 0-9 \. _ ~ -"):
        from_env({"SOCIALSLA_PAGE_TOKEN": token})


def test_a_page_token_is_a_secret() -> None:
    """Kept, and masked wherever settings are described or printed."""
    assert from_env({"SOCIALSLA_PAGE_TOKEN": "Az09._~-Az09._~-"}).page_token == "Az09._~-Az09._~-"
    settings = from_env({"SOCIALSLA_PAGE_TOKEN": "0123456789abcdef0123"})
    assert settings.page_token == "0123456789abcdef0123"
    assert dict(settings.describe())["SOCIALSLA_PAGE_TOKEN"] == "***"
    assert "0123456789abcdef0123" not in repr(settings)
    assert from_env({}).page_token is None

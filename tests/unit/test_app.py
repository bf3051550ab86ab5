"""The Faust wiring and the local store that can be checked without a broker."""

from __future__ import annotations

from pathlib import Path

from socialsla.app import assemble
from socialsla.core.rules import DEFAULT_RULES
from socialsla.stream import thread_store
from socialsla.stream.settings import Settings


def test_no_faust_table_and_the_thread_stores_open_rocksdb_within_the_memory_budget(tmp_path: Path) -> None:
    """Neither agent uses a Faust table; a partition's thread store is RocksDB with the budgeted cache.

    The store is made empty at each load, whatever an earlier worker left in its directory.
    """
    settings = Settings(data_dir=tmp_path, partitions=4, store_memory_mib=64)
    pipeline = assemble(settings, DEFAULT_RULES)
    assert dict(pipeline.app.tables) == {}
    expected = settings.rocksdb_options()
    assert expected["block_cache_size"] == 8 << 20
    store = thread_store._open_store(settings, 2)
    store[b"acme|x|c1"] = b"[]"
    assert store.property_int_value("rocksdb.block-cache-capacity") == expected["block_cache_size"]  # type: ignore[attr-defined]
    store.close()  # type: ignore[attr-defined]
    again = thread_store._open_store(settings, 2)
    assert again.get(b"acme|x|c1") is None
    assert (tmp_path / settings.app_id / "threads" / "2").is_dir()
    again.close()  # type: ignore[attr-defined]


def test_the_thread_store_writes_no_write_ahead_log(tmp_path: Path) -> None:
    """The store is refilled from Kafka at each load, so RocksDB's own log would only cost writes."""
    settings = Settings(data_dir=tmp_path, partitions=1)
    store = thread_store._open_store(settings, 0)
    thread_store._put_all(store, [(f"acme|x|c{n}".encode(), b"[]" * 50) for n in range(1_000)])
    store[b"acme|x|one"] = b"[]"
    directory = tmp_path / settings.app_id / "threads" / "0"
    wal = [path.stat().st_size for path in directory.glob("*.log")]
    assert wal  # RocksDB keeps an (empty) log file
    assert sum(wal) == 0
    assert store.get(b"acme|x|c999") == b"[]" * 50
    store.close()  # type: ignore[attr-defined]

"""The Faust wiring that can be checked without a broker."""

from __future__ import annotations

from pathlib import Path

from socialsla.app import build
from socialsla.rules import DEFAULT_RULES
from socialsla.settings import Settings


def test_tables_open_rocksdb_within_the_memory_budget(tmp_path: Path) -> None:
    """Both tables' RocksDB stores use the budgeted sizes, not Faust's 2 GiB cache per store."""
    settings = Settings(data_dir=tmp_path, partitions=4, store_memory_mib=64)
    pipeline = build(settings, DEFAULT_RULES)
    expected = settings.rocksdb_options()
    for name in ("conversations", "series"):
        store = pipeline.app.tables[name].data
        options = store.rocksdb_options
        got = {key: getattr(options, key) for key in expected}
        assert got == expected, name
    assert expected["block_cache_size"] == 4 << 20

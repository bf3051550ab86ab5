"""The agents as adapters: a batch's partitions made ready, the handler run, its sends sent; no broker."""

from __future__ import annotations

from typing import Any

import pytest

from socialsla.stream.faust_agents import Outbox, StageAgent
from socialsla.stream.handlers import Sends
from socialsla.stream.partitions import Partitions
from socialsla.stream.settings import Settings
from tests.unit.stream.test_handlers import Message


class Topic:
    def __init__(self, name: str = "t") -> None:
        self.name = name
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)

    def get_topic_name(self) -> str:
        return self.name


class State:
    aside = None

    def __init__(self) -> None:
        self.open_partitions: set[int] = set()

    def reset(self, partitions: set[int]) -> None:
        self.open_partitions |= partitions

    def load_record(self, partition: int, record: Any) -> None:
        raise AssertionError("no records in this log")

    def drop(self, partition: int) -> None:
        self.open_partitions.discard(partition)


async def _empty_log(options: Any, topic: str, partitions: Any, since: int, apply: Any) -> dict[int, int]:
    return {partition: 0 for partition in partitions}


def _outbox() -> tuple[Outbox, Partitions, State, Topic, Topic, Topic]:
    state = State()
    partitions = Partitions({}, lambda: 0, [(state, "threads", frozenset({"posts"}))], _empty_log)
    deadletters, log, outcomes = Topic("deadletter"), Topic("threads"), Topic("outcomes")
    return (
        Outbox(Settings(), deadletters, log, outcomes, partitions, state),
        partitions,
        state,
        deadletters,
        log,
        outcomes,
    )


@pytest.mark.asyncio
async def test_the_outbox_sends_each_kind_where_it_belongs_and_no_log_record_of_a_revoked_partition() -> None:
    outbox, partitions, state, deadletters, log, outcomes = _outbox()
    await partitions.ready(state, {0, 1})
    partitions.revoke([type("TP", (), {"topic": "posts", "partition": 1})()])
    bad = Message("posts", 3, 17, b"k", b"junk")
    sends = Sends(
        deadletters=[(bad, "not JSON")],
        log=[(0, b"record0"), (1, b"record1")],
        outcomes=[(b"acme|x", b"o")],
        totals=[(2, b"acme|x", b"t")],
    )
    await outbox.send(sends)
    assert deadletters.sent == [
        {"key": b"k", "value": b"junk", "headers": [("reason", b"not JSON"), ("source", b"posts/3/17")]}
    ]
    assert log.sent == [{"key": None, "value": b"record0", "partition": 0}]
    assert outcomes.sent == [
        {"key": b"acme|x", "value": b"o"},
        {"key": b"acme|x", "value": b"t", "partition": 2},
    ]


@pytest.mark.asyncio
async def test_an_agent_hands_its_handler_a_batch_only_once_its_partitions_are_loaded() -> None:
    outbox, partitions, state, _, _, outcomes = _outbox()
    seen: list[tuple[set[int], list[int], int]] = []

    class Handler:
        def handle(self, messages: list[Any], now_us: int) -> Sends:
            seen.append((partitions.loaded(state), [m.offset for m in messages], now_us))
            return Sends(outcomes=[(b"s", b"v")])

    class Clock:
        def now_us(self) -> int:
            return 42

    agent = StageAgent(Settings(), Clock(), Handler(), state, partitions, outbox, lambda: None)  # type: ignore[arg-type]
    await agent.process([Message("posts", 2, 5, b"k", b"v"), Message("posts", 0, 9, b"k", b"v")])
    assert seen == [({0, 2}, [5, 9], 42)]
    assert outcomes.sent == [{"key": b"s", "value": b"v"}]

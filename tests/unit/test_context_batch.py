"""The context step's queue: one retrieval per batch, behind the decisions, handed to each request's reconcile."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from opsgate.controller.conditions import Condition, Reason, Type
from opsgate.controller.context_batch import Context, ContextBatch
from opsgate.controller.deferral import Undecided


def request(uid: str) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": f"r-{uid}", "namespace": "shop"}, "spec": {"request": f"text {uid}"}}


class Recorder:
    """Retrieves a source named after each request's text; delivers by reading what the batch holds for it."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.delivered: dict[str, Context | None] = {}
        self.batch: ContextBatch | None = None

    async def retrieve(self, bodies: Sequence[Mapping[str, Any]]) -> list[Context]:
        self.batches.append([b["metadata"]["uid"] for b in bodies])
        found = Condition.true(Type.CONTEXT_RETRIEVED, Reason.RETRIEVED, "found")
        return [([{"source": b["spec"]["request"]}], found) for b in bodies]

    async def deliver(self, body: Mapping[str, Any]) -> None:
        assert self.batch is not None
        self.delivered[body["metadata"]["uid"]] = self.batch.ready(body["metadata"]["uid"])


async def settle(batch: ContextBatch, task: asyncio.Task[None]) -> None:
    for _ in range(200):
        await asyncio.sleep(0.01)
        if not len(batch):
            break
    await asyncio.sleep(0.05)
    task.cancel()


async def test_requests_queued_together_are_retrieved_in_one_batch_and_each_gets_its_own() -> None:
    recorder = Recorder()
    batch = recorder.batch = ContextBatch(recorder.retrieve, recorder.deliver, decisions=Undecided(), batch=16)
    for uid in ("a", "b", "c", "a"):  # "a" twice: queued once
        batch.want(request(uid))
    task = asyncio.get_running_loop().create_task(batch.run())
    await settle(batch, task)
    assert recorder.batches == [["a", "b", "c"]]
    assert {uid: ctx[0] if ctx else None for uid, ctx in recorder.delivered.items()} == {
        "a": [{"source": "text a"}],
        "b": [{"source": "text b"}],
        "c": [{"source": "text c"}],
    }
    assert batch.ready("a") is None  # handed over: nothing is kept once the reconcile ran


async def test_a_batch_holds_at_most_its_size() -> None:
    recorder = Recorder()
    batch = recorder.batch = ContextBatch(recorder.retrieve, recorder.deliver, decisions=Undecided(), batch=2)
    for uid in "abcde":
        batch.want(request(uid))
    task = asyncio.get_running_loop().create_task(batch.run())
    await settle(batch, task)
    assert recorder.batches == [["a", "b"], ["c", "d"], ["e"]]
    assert set(recorder.delivered) == set("abcde")


async def test_it_waits_while_requests_are_being_decided_but_not_forever() -> None:
    recorder = Recorder()
    deciding = Undecided()
    deciding.add("x")
    batch = recorder.batch = ContextBatch(recorder.retrieve, recorder.deliver, decisions=deciding, max_defer=0.3)
    batch.want(request("a"))
    task = asyncio.get_running_loop().create_task(batch.run())
    await asyncio.sleep(0.1)
    assert recorder.batches == []  # decisions first
    deciding.discard("x")
    await asyncio.sleep(0.1)
    assert recorder.batches == [["a"]]  # run as soon as they are done
    deciding.add("y")
    batch.want(request("b"))
    await asyncio.sleep(0.5)
    assert recorder.batches == [["a"], ["b"]]  # and after max_defer even if they never are
    task.cancel()


async def test_a_failed_delivery_leaves_nothing_behind_and_the_worker_goes_on() -> None:
    recorder = Recorder()

    async def deliver(body: Mapping[str, Any]) -> None:
        if body["metadata"]["uid"] == "a":
            raise RuntimeError("the API server went away")
        await recorder.deliver(body)

    batch = recorder.batch = ContextBatch(recorder.retrieve, deliver, decisions=Undecided())
    task = asyncio.get_running_loop().create_task(batch.run())
    batch.want(request("a"))
    await asyncio.sleep(0.05)
    assert batch.ready("a") is None
    batch.want(request("b"))
    await settle(batch, task)
    assert recorder.batches == [["a"], ["b"]]
    assert recorder.delivered["b"] is not None


async def test_a_request_counts_as_queued_from_want_until_its_delivery_ends() -> None:
    recorder = Recorder()
    seen_during_delivery: list[bool] = []

    async def deliver(body: Mapping[str, Any]) -> None:
        seen_during_delivery.append(body["metadata"]["uid"] in batch)  # its own event is left alone
        await recorder.deliver(body)

    batch = ContextBatch(recorder.retrieve, deliver, decisions=Undecided())
    assert "a" not in batch
    batch.want(request("a"))
    assert "a" in batch  # the operator skips the request's events from here on
    task = asyncio.get_running_loop().create_task(batch.run())
    await settle(batch, task)
    assert seen_during_delivery == [True]
    assert "a" not in batch  # written (or failed): its next event is looked at again


async def test_a_request_asked_for_again_while_its_context_is_retrieved_is_retrieved_once() -> None:
    # A launch queues the context, then its Running step asks again before the retrieval is done.
    recorder = Recorder()
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_retrieve(bodies: Sequence[Mapping[str, Any]]) -> list[Context]:
        started.set()
        await release.wait()
        return await recorder.retrieve(bodies)

    batch = recorder.batch = ContextBatch(slow_retrieve, recorder.deliver, decisions=Undecided(), batch=16)
    batch.want(request("a"))
    task = asyncio.get_running_loop().create_task(batch.run())
    await asyncio.wait_for(started.wait(), timeout=2)
    assert "a" in batch  # being retrieved: its events need no reconcile
    batch.want(request("a"))
    release.set()
    await settle(batch, task)
    assert recorder.batches == [["a"]]
    assert recorder.delivered["a"] is not None


async def test_a_context_written_with_another_step_is_no_longer_held_for_delivery() -> None:
    recorder = Recorder()
    delivered: list[str] = []

    async def deliver(body: Mapping[str, Any]) -> None:
        uid = body["metadata"]["uid"]
        if uid == "a":
            batch.written("b")  # b's Running write carried its context before b's delivery ran
        if batch.ready(uid) is not None:
            delivered.append(uid)

    batch = ContextBatch(recorder.retrieve, deliver, decisions=Undecided(), batch=16)
    batch.want(request("a"))
    batch.want(request("b"))
    task = asyncio.get_running_loop().create_task(batch.run())
    await settle(batch, task)
    assert recorder.batches == [["a", "b"]]
    assert delivered == ["a"]


async def test_a_write_due_anyway_can_wait_for_a_context_being_retrieved() -> None:
    release = asyncio.Event()
    recorder = Recorder()

    async def slow_retrieve(bodies: Sequence[Mapping[str, Any]]) -> list[Context]:
        await release.wait()
        return await recorder.retrieve(bodies)

    batch = recorder.batch = ContextBatch(slow_retrieve, recorder.deliver, decisions=Undecided(), batch=16)
    batch.want(request("a"))
    task = asyncio.get_running_loop().create_task(batch.run())
    waiting = asyncio.get_running_loop().create_task(batch.retrieved("a"))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # queued, then being retrieved: it waits
    release.set()
    found = await asyncio.wait_for(waiting, timeout=2)
    assert found is not None
    assert found[0] == [{"source": "text a"}]
    await settle(batch, task)


async def test_waiting_for_a_context_nobody_retrieves_returns_at_once() -> None:
    batch = ContextBatch(Recorder().retrieve, Recorder().deliver, decisions=Undecided(), batch=16)
    assert await asyncio.wait_for(batch.retrieved("never-asked"), timeout=1) is None


async def test_a_failed_retrieval_ends_the_wait_without_a_context() -> None:
    async def failing(bodies: Sequence[Mapping[str, Any]]) -> list[Context]:
        await asyncio.sleep(0.02)
        raise RuntimeError("the index is gone")

    batch = ContextBatch(failing, Recorder().deliver, decisions=Undecided(), batch=16)
    batch.want(request("a"))
    task = asyncio.get_running_loop().create_task(batch.run())
    assert await asyncio.wait_for(batch.retrieved("a"), timeout=2) is None
    await settle(batch, task)


async def test_a_few_queued_requests_keep_their_body_and_a_backlog_only_name_and_text() -> None:
    kept: list[Mapping[str, Any]] = []

    async def deliver(body: Mapping[str, Any]) -> None:  # what each delivery is handed
        kept.append(body)

    batch = ContextBatch(Recorder().retrieve, deliver, decisions=Undecided(), keep_bodies=2)
    for uid in "abc":
        body = request(uid)
        body["metadata"]["managedFields"] = [{"manager": "kubectl"}]
        batch.want({**body, "status": {"phase": "Denied"}})
    task = asyncio.get_running_loop().create_task(batch.run())
    await settle(batch, task)
    by_uid = {body["metadata"]["uid"]: body for body in kept}
    assert by_uid["a"]["status"] == {"phase": "Denied"}  # the reconcile starts from it
    assert "managedFields" not in by_uid["a"]["metadata"]
    assert "status" in by_uid["b"]
    assert "status" not in by_uid["c"]  # beyond the cap: read anew
    assert by_uid["c"]["spec"] == {"request": "text c"}

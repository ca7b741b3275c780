"""Per-call impersonation (``kube.acting_as``): one server acting for many users at once.

The headers are what the API server reads to decide who is calling, so a leak between two
users' concurrent calls would be a privilege escalation; each group must travel in its own
``Impersonate-Group`` header (a comma is part of a group name to the API server).
"""

from __future__ import annotations

import asyncio

from opsgate import kube


def test_each_group_goes_in_its_own_impersonate_group_header() -> None:
    with kube.acting_as("alice", ["opsgate-approvers", "team,with-comma"]):
        headers = kube._headers({"Accept": "application/json"})
    assert headers["Impersonate-User"] == "alice"
    assert headers.get_all("Impersonate-Group") == ["opsgate-approvers", "team,with-comma"]
    assert headers["Accept"] == "application/json"


def test_outside_acting_as_no_one_is_impersonated() -> None:
    with kube.acting_as("alice", ["dev"]):
        pass
    assert "Impersonate-User" not in kube._headers({})


async def test_concurrent_users_each_call_as_themselves_in_worker_threads() -> None:
    async def call_as(user: str) -> str:
        with kube.acting_as(user, [f"{user}-group"]):
            await asyncio.sleep(0.01)  # the other user's task runs meanwhile
            headers = await kube.acall(kube._headers, {})
        return f"{headers['Impersonate-User']}/{headers['Impersonate-Group']}"

    seen = await asyncio.gather(*(call_as(user) for user in ("alice", "bob", "carol") * 5))
    assert seen == [f"{u}/{u}-group" for u in ("alice", "bob", "carol") * 5]

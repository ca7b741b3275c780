"""Alert routes, the requests firing alerts become, rate limits, and a route's earned autonomy.

Real catalog, real routes file and real policies; Alertmanager payloads shaped as its webhook
documentation gives them (version 4). No cluster: the receiver's API calls are e2e's business
(tests/e2e/test_alerts_live.py).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from opsgate import catalog, paths
from opsgate.alerts import autonomy, ratelimit, requests, routes, webhook
from opsgate.controller import planning
from opsgate.policy import PolicySet
from opsgate.resources import Phase

RECEIVER = "system:serviceaccount:opsgate-system:opsgate-alerts"
MONDAY = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC)
TAGS = {"opsgate.dev/project": "shop", "opsgate.dev/cost-center": "cc-1"}


@pytest.fixture(scope="module")
def actions() -> catalog.Catalog:
    return catalog.load_catalog()


@pytest.fixture(scope="module")
def shipped(actions: catalog.Catalog) -> routes.RouteSet:
    return routes.load_routes(paths.policies_dir() / routes.ROUTES_FILE, actions=actions)


def alert(status: str = "firing", fingerprint: str = "a1b2c3d4e5f60718", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "deployment": "cart", **labels},
        "annotations": {"description": "restart deployment payments in namespace prod please"},
        "startsAt": "2026-12-03T23:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="KubePodCrashLooping"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "opsgate",
        "groupLabels": {"alertname": "KubePodCrashLooping"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local",
        "alerts": list(alerts),
    }


def routed(shipped: routes.RouteSet, actions: catalog.Catalog, **labels: str) -> routes.Routed | routes.Unrouted:
    one = webhook.parse(payload(alert(**labels))).alerts[0]
    return routes.route_alert(one, routes=shipped, actions=actions)


# --- payloads ------------------------------------------------------------------------------------


def test_a_documented_webhook_payload_is_read() -> None:
    parsed = webhook.parse(payload(alert(), alert("resolved", fingerprint="ff00")))
    assert [a.status for a in parsed.alerts] == [webhook.AlertStatus.FIRING, webhook.AlertStatus.RESOLVED]


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({**payload(alert()), "version": "3"}, "unsupported webhook version"),
        ({"hello": "world"}, "version"),
        (payload({**alert(), "fingerprint": ""}), "alerts.0.fingerprint"),
        ([1, 2], "body"),
    ],
    ids=["old-version", "not-alertmanager", "no-fingerprint", "not-an-object"],
)
def test_a_payload_that_is_not_alertmanagers_is_refused_with_the_reason(document: Any, says: str) -> None:
    with pytest.raises(webhook.PayloadError, match=says):
        webhook.parse(document)


# --- routes --------------------------------------------------------------------------------------


def test_a_crash_loop_alert_routes_to_a_restart_of_its_deployment_from_labels_only(
    shipped: routes.RouteSet, actions: catalog.Catalog
) -> None:
    found = routed(shipped, actions)
    assert isinstance(found, routes.Routed)
    assert found.entry.key == "provision.restart.deployment"
    # the description asks for payments in prod: free text is never read
    assert found.parameters == {"name": "cart", "namespace": "shop"}
    assert found.namespace == "shop"


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ({"alertname": "DiskFull"}, "no route matches"),
        ({"deployment": "Cart; rm -rf /"}, "parameters from the alert's labels are invalid"),
        ({"namespace": "-bad-"}, "parameters from the alert's labels are invalid"),
    ],
    ids=["other-alert", "label-not-a-name", "namespace-not-a-name"],
)
def test_an_alert_a_route_cannot_serve_makes_no_request_and_says_why(
    shipped: routes.RouteSet, actions: catalog.Catalog, labels: dict[str, str], reason: str
) -> None:
    found = routed(shipped, actions, **labels)
    assert isinstance(found, routes.Unrouted)
    assert reason in found.reason


def test_an_alert_without_the_label_a_parameter_comes_from_makes_no_request(
    shipped: routes.RouteSet, actions: catalog.Catalog
) -> None:
    raw = alert()
    del raw["labels"]["deployment"]
    found = routes.route_alert(webhook.parse(payload(raw)).alerts[0], routes=shipped, actions=actions)
    assert isinstance(found, routes.Unrouted)
    assert "no label 'deployment'" in found.reason


def test_label_values_become_the_types_the_schema_asks_for(actions: catalog.Catalog) -> None:
    document = {
        "version": 1,
        "requester": RECEIVER,
        "routes": [
            {
                "name": "scale-on-saturation",
                "match": {"alertname": "Saturated"},
                "action": "provision.scale.deployment",
                "parameters": {"name": "deployment", "namespace": "namespace", "replicas": "wanted"},
            }
        ],
    }
    table = routes.parse_routes(document, source="test", actions=actions)
    ok = routes.route_alert(
        webhook.Alert.model_validate(alert(alertname="Saturated", wanted="4")), routes=table, actions=actions
    )
    assert isinstance(ok, routes.Routed)
    assert ok.parameters["replicas"] == 4
    bad = routes.route_alert(
        webhook.Alert.model_validate(alert(alertname="Saturated", wanted="many")), routes=table, actions=actions
    )
    assert isinstance(bad, routes.Unrouted)
    assert "not a valid integer" in bad.reason


@pytest.mark.parametrize(
    ("route", "says"),
    [
        ({"action": "provision.reboot.universe"}, "not in the catalog"),
        ({"parameters": {"replicas": "wanted"}}, "has no parameter 'replicas'"),
        ({"match": {}}, "match"),
        ({"name": "Not A Name"}, "name"),
    ],
    ids=["unknown-action", "unknown-parameter", "matches-everything", "bad-name"],
)
def test_a_malformed_routes_file_fails_at_load_naming_the_route(
    actions: catalog.Catalog, route: dict[str, Any], says: str
) -> None:
    base = {"name": "r", "match": {"alertname": "X"}, "action": "provision.restart.deployment"}
    with pytest.raises(routes.RoutesError, match=says):
        routes.parse_routes(
            {"version": 1, "requester": RECEIVER, "routes": [{**base, **route}]}, source="t", actions=actions
        )


# --- the request ----------------------------------------------------------------------------------


def test_the_request_is_named_by_the_alert_so_a_re_send_names_the_same_one(
    shipped: routes.RouteSet, actions: catalog.Catalog
) -> None:
    first = webhook.Alert.model_validate(alert())
    again = webhook.Alert.model_validate({**alert(), "annotations": {"summary": "still crashing"}})
    refired = webhook.Alert.model_validate({**alert(), "startsAt": "2026-12-04T02:00:00Z"})
    other = webhook.Alert.model_validate(alert(fingerprint="0badc0ffee"))
    names = [requests.request_name("restart-crashlooping", a) for a in (first, again, refired, other)]
    assert names[0] == names[1]
    assert len(set(names)) == 3


def test_the_request_states_every_parameter_as_the_receiver_with_the_alert_as_context(
    shipped: routes.RouteSet, actions: catalog.Catalog
) -> None:
    found = routed(shipped, actions)
    assert isinstance(found, routes.Routed)
    one = webhook.Alert.model_validate(alert())
    made = requests.manifest(found, one, requester=RECEIVER, groups=["system:serviceaccounts", "system:authenticated"])
    assert made["metadata"]["namespace"] == "shop"
    assert made["metadata"]["labels"][routes.LABEL_ROUTE] == "restart-crashlooping"
    assert made["spec"]["requester"] == RECEIVER
    assert made["spec"]["intent"] == {
        "category": "provision",
        "action": "restart",
        "resource_type": "deployment",
        "entities": {"name": "cart", "namespace": "shop"},
    }
    assert "name cart" in made["spec"]["request"]
    assert "namespace shop" in made["spec"]["request"]
    context = made["metadata"]["annotations"][routes.ANNOTATION_ALERT]
    assert "KubePodCrashLooping" in context
    assert "a1b2c3d4e5f60718" in context
    assert "please" not in context + made["spec"]["request"]  # annotations are not carried


def made(name: str, at: datetime.datetime, *, route: str = "r", requester: str = RECEIVER) -> dict[str, Any]:
    """A route's request as the API server lists it."""
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": {routes.LABEL_ROUTE: route},
            "creationTimestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": {"requester": requester},
    }


def test_a_route_makes_at_most_its_rate_limit_of_requests_per_window() -> None:
    limit = routes.RateLimit(requests=2, per_seconds=60)
    at = [MONDAY + datetime.timedelta(seconds=s) for s in (0, 1, 59, 62, 200)]

    def allows(requests: list[dict[str, Any]], now: datetime.datetime, route: str = "r") -> bool:
        return ratelimit.allows(requests, route=route, limit=limit, requester=RECEIVER, now=now)

    assert allows([], at[0])
    assert allows([made("a", at[0])], at[1])
    assert not allows([made("a", at[0]), made("b", at[1])], at[2])
    assert allows([made("a", at[0]), made("b", at[1])], at[3])  # the first has left the window
    assert allows([made("a", at[0]), made("b", at[1])], at[2], route="other")


def test_only_the_receivers_requests_in_the_window_count_and_a_doubt_counts() -> None:
    now = MONDAY + datetime.timedelta(seconds=100)
    listed = [
        made("mine", MONDAY + datetime.timedelta(seconds=90)),
        made("someone-elses", now, requester="mallory"),  # a label anyone can set spends nothing
        made("other-route", now, route="other"),
        made("old", MONDAY),
        made("same-second", MONDAY + datetime.timedelta(seconds=40)),  # whole seconds: it may be in
        {**made("undated", now), "metadata": {"name": "undated", "labels": {routes.LABEL_ROUTE: "r"}}},
    ]
    count = ratelimit.made_in_window(listed, route="r", requester=RECEIVER, per_seconds=60, now=now)
    assert count == 3


# --- autonomy -------------------------------------------------------------------------------------


def run(
    n: int, phase: str, *, approved: bool = True, requester: str = RECEIVER, route: str = "restart-crashlooping"
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if approved:
        status["approval"] = {"state": "Approved" if phase != "Rejected" else "Rejected"}
    return {
        "metadata": {
            "name": f"run-{n}",
            "uid": f"uid-{n}",
            "creationTimestamp": f"2026-12-03T10:{n:02d}:00Z",
            "labels": {routes.LABEL_ROUTE: route},
        },
        "spec": {"requester": requester},
        "status": status,
    }


@pytest.mark.parametrize(
    ("history", "approved", "eligible"),
    [
        ([], 0, False),
        ([run(1, "Succeeded"), run(2, "Succeeded")], 2, False),
        ([run(1, "Succeeded"), run(2, "Succeeded"), run(3, "Succeeded")], 3, True),
        ([run(1, "Succeeded"), run(2, "Succeeded"), run(3, "Succeeded"), run(4, "Failed", approved=False)], 0, False),
        ([run(1, "Failed"), run(2, "Succeeded"), run(3, "Succeeded"), run(4, "Succeeded")], 3, True),
        ([*(run(i, "Succeeded") for i in (1, 2, 3)), run(4, "Succeeded", approved=False)], 3, True),
        ([*(run(i, "Succeeded") for i in (1, 2)), run(3, "Rejected")], 0, False),
        ([*(run(i, "Succeeded") for i in (1, 2)), run(3, "Running")], 2, False),
        ([*(run(i, "Succeeded", requester="mallory") for i in (1, 2, 3))], 0, False),
        ([*(run(i, "Succeeded", route="other") for i in (1, 2, 3))], 0, False),
    ],
    ids=[
        "new-route",
        "two-of-three",
        "three-approved-successes-promote",
        "one-failure-demotes",
        "failure-long-ago-then-three",
        "autonomous-success-keeps-it-promoted",
        "a-rejection-restarts-the-count",
        "unfinished-runs-do-not-count",
        "someone-else-labelling-requests-earns-nothing",
        "another-routes-runs",
    ],
)
def test_a_route_earns_autonomy_from_consecutive_approved_successes_and_loses_it_on_a_failure(
    shipped: routes.RouteSet, history: list[dict[str, Any]], approved: int, eligible: bool
) -> None:
    route = shipped.get("restart-crashlooping")
    assert route is not None
    assert route.promote_after == 3
    standing = autonomy.standing(route, history, requester=RECEIVER)
    assert (standing.approved_successes, standing.eligible) == (approved, eligible)


def test_only_the_receivers_requests_count_in_a_route(shipped: routes.RouteSet) -> None:
    mine = run(1, "Pending")
    assert autonomy.route_of(mine, routes=shipped) is not None
    assert autonomy.route_of({**mine, "spec": {"requester": "mallory"}}, routes=shipped) is None


# --- the decision, through the real policies -------------------------------------------------------


@pytest.fixture(scope="module")
def engine(actions: catalog.Catalog, shipped: routes.RouteSet) -> planning.Engine:
    home = paths.home()
    return planning.Engine(
        catalog=actions,
        policies=PolicySet.load(home / "policies"),
        home=home,
        executor_image="registry.local/opsgate:test",
        routes=shipped,
    )


def alert_request(shipped: routes.RouteSet, actions: catalog.Catalog, *, requester: str = RECEIVER) -> dict[str, Any]:
    found = routed(shipped, actions)
    assert isinstance(found, routes.Routed)
    made = requests.manifest(
        found, webhook.Alert.model_validate(alert()), requester=requester, groups=["system:authenticated"]
    )
    made["metadata"].update(uid="uid-new", generation=1)
    made["metadata"]["labels"].update(TAGS)
    return made


async def decide(engine: planning.Engine, body: dict[str, Any], standing: autonomy.Standing | None) -> planning.Planned:
    return await planning.plan_request(
        body, engine=engine, now=MONDAY, history={}, namespace_labels={}, standing=standing
    )


async def test_a_route_request_waits_for_a_person_until_the_route_has_earned_autonomy(
    engine: planning.Engine, shipped: routes.RouteSet, actions: catalog.Catalog
) -> None:
    route = shipped.get("restart-crashlooping")
    assert route is not None
    body = alert_request(shipped, actions)
    supervised = await decide(engine, body, autonomy.standing(route, [run(1, "Succeeded")], requester=RECEIVER))
    assert supervised.phase is Phase.AWAITING_APPROVAL
    assert any(
        r["policy"] == "alert-route-autonomy"
        for r in supervised.status["policy"]["results"]
        if r["result"] == "approval"
    )
    assert supervised.status["autonomy"] == {
        "route": route.name,
        "approvedSuccesses": 1,
        "promoteAfter": 3,
        "autonomous": False,
    }

    earned = [run(i, "Succeeded") for i in (1, 2, 3)]
    promoted = await decide(engine, body, autonomy.standing(route, earned, requester=RECEIVER))
    assert promoted.phase is Phase.APPROVED
    assert promoted.run
    assert promoted.status["autonomy"]["autonomous"] is True
    assert [n.reason for n in promoted.notes if n.reason.startswith("Route")] == ["RouteAutonomous"]


async def test_someone_else_putting_the_route_label_on_a_request_only_adds_an_approval(
    engine: planning.Engine, shipped: routes.RouteSet, actions: catalog.Catalog
) -> None:
    body = alert_request(shipped, actions, requester="mallory")
    planned = await decide(engine, body, None)  # not the receiver: the operator reads no standing
    assert planned.phase is Phase.AWAITING_APPROVAL
    assert "autonomy" not in planned.status


async def test_a_platform_team_forbids_autonomy_by_tightening_the_rule(
    shipped: routes.RouteSet, actions: catalog.Catalog, tmp_path: Any
) -> None:
    policies = paths.policies_dir()
    for name in ("config.yaml", "operational.yaml"):
        (tmp_path / name).write_text((policies / name).read_text())
    forbidding = (
        (policies / "autonomy.yaml")
        .read_text()
        .replace(
            "    violation: >-\n      !(history.routePromoteAfter > 0",
            "    violation: >-\n      true || !(history.routePromoteAfter > 0",
        )
    )
    assert forbidding != (policies / "autonomy.yaml").read_text()
    (tmp_path / "autonomy.yaml").write_text(forbidding)
    strict = planning.Engine(
        catalog=actions, policies=PolicySet.load(tmp_path), home=paths.home(), executor_image="x", routes=shipped
    )
    route = shipped.get("restart-crashlooping")
    assert route is not None
    earned = autonomy.standing(route, [run(i, "Succeeded") for i in (1, 2, 3, 4)], requester=RECEIVER)
    planned = await decide(strict, alert_request(shipped, actions), earned)
    assert planned.phase is Phase.AWAITING_APPROVAL
    assert [n.reason for n in planned.notes if n.reason.startswith("Route")] == ["RouteAutonomyWithheld"]


# --- the receiver's bookkeeping (the API server's part is tests/e2e/test_alerts_live.py) ---------------


class ApiServer:
    """What the API server does for the receiver: a create at a name happens once (then False,
    its 409), stamped with the clock; a list by route label returns what was created."""

    def __init__(self, clock: list[datetime.datetime]) -> None:
        self.clock = clock
        self.made: list[dict[str, Any]] = []

    async def create(self, manifest: Any) -> bool:
        meta = manifest["metadata"]
        if any(
            (m["metadata"]["namespace"], m["metadata"]["name"]) == (meta["namespace"], meta["name"]) for m in self.made
        ):
            return False
        stamp = self.clock[0].strftime("%Y-%m-%dT%H:%M:%SZ")
        self.made.append({**manifest, "metadata": {**meta, "creationTimestamp": stamp}})
        return True

    async def list_route(self, route: str, namespace: str) -> list[dict[str, Any]]:
        return [m for m in self.made if m["metadata"]["labels"].get(routes.LABEL_ROUTE) == route]

    def receiver(self, table: routes.RouteSet, actions: catalog.Catalog) -> Any:
        """A receiver process as ``opsgate alerts`` starts one: nothing in memory but its routes."""
        from opsgate.cli.alerts import Receiver

        return Receiver(
            routes=table,
            actions=actions,
            username=RECEIVER,
            groups=(),
            create=self.create,
            made=self.list_route,
            clock=lambda: self.clock[0],
        )


def limited_to(table: routes.RouteSet, requests: int, per_seconds: int) -> routes.RouteSet:
    limit = routes.RateLimit(requests=requests, per_seconds=per_seconds)
    return routes.RouteSet(
        requester=RECEIVER, routes=tuple(r.model_copy(update={"rate_limit": limit}) for r in table.routes)
    )


async def test_a_re_send_is_a_duplicate_and_does_not_count_against_the_rate_limit(
    shipped: routes.RouteSet, actions: catalog.Catalog
) -> None:
    api = ApiServer([MONDAY])
    limited = limited_to(shipped, 2, 3600)
    receiver = api.receiver(limited, actions)
    first = await receiver.receive(webhook.parse(payload(alert(fingerprint="aa"), alert(fingerprint="bb"))))
    assert len(first.created) == 2
    again = await receiver.receive(webhook.parse(payload(alert(fingerprint="aa"), alert(fingerprint="bb"))))
    assert (again.created, len(again.duplicates), again.skipped) == ([], 2, [])
    third = await receiver.receive(webhook.parse(payload(alert(fingerprint="cc"), alert("resolved", fingerprint="dd"))))
    assert third.created == []
    assert [s["reason"] for s in third.skipped] == [
        "rate limited: route restart-crashlooping made 2 request(s) in the last 3600s",
        "resolved alerts don't act",
    ]
    restarted = api.receiver(limited, actions)
    after = await restarted.receive(webhook.parse(payload(alert(fingerprint="aa"))))
    assert (after.created, len(after.duplicates)) == ([], 1)  # the API server still has it
    assert len(api.made) == 2


async def test_a_restart_or_a_second_replica_does_not_reset_a_routes_rate_limit(
    shipped: routes.RouteSet, actions: catalog.Catalog
) -> None:
    clock = [MONDAY]
    api = ApiServer(clock)
    limited = limited_to(shipped, 1, 600)
    first = await api.receiver(limited, actions).receive(webhook.parse(payload(alert(fingerprint="aa"))))
    assert len(first.created) == 1

    clock[0] = MONDAY + datetime.timedelta(seconds=30)
    restarted, replica = api.receiver(limited, actions), api.receiver(limited, actions)
    for receiver, fingerprint in ((restarted, "bb"), (replica, "cc")):
        report = await receiver.receive(webhook.parse(payload(alert(fingerprint=fingerprint))))
        assert report.created == []
        assert [s["reason"] for s in report.skipped] == [
            "rate limited: route restart-crashlooping made 1 request(s) in the last 600s"
        ]

    clock[0] = MONDAY + datetime.timedelta(seconds=602)  # the first request has left the window
    later = await api.receiver(limited, actions).receive(webhook.parse(payload(alert(fingerprint="bb"))))
    assert len(later.created) == 1
    assert len(api.made) == 2


async def test_concurrent_webhook_calls_cannot_both_take_a_routes_last_slot(
    shipped: routes.RouteSet, actions: catalog.Catalog
) -> None:
    import asyncio

    api = ApiServer([MONDAY])
    receiver = api.receiver(limited_to(shipped, 1, 600), actions)
    reports = await asyncio.gather(
        *(receiver.receive(webhook.parse(payload(alert(fingerprint=f)))) for f in ("aa", "bb", "cc"))
    )
    assert sum(len(r.created) for r in reports) == 1
    assert len(api.made) == 1

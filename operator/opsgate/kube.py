"""Every Kubernetes API call OpsGate makes, in one place.

A thin REST layer over the official ``kubernetes`` client's ``ApiClient``: objects go in and come
out as plain dicts (no generated model classes, which are slow to build and hide fields), paths
are derived from ``apiVersion``/``kind``. Calls are blocking; async callers use the ``a*``
wrappers, which run them in a worker thread so the kopf event loop never stalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import kubernetes
import urllib3

# kind -> plural, for the kinds OpsGate touches
PLURALS = {
    "OpsRequest": "opsrequests",
    "Approval": "approvals",
    "Job": "jobs",
    "ConfigMap": "configmaps",
    "Pod": "pods",
    "Namespace": "namespaces",
    "Event": "events",
    "ServiceAccount": "serviceaccounts",
    "SubjectAccessReview": "subjectaccessreviews",
    "ClusterKopfPeering": "clusterkopfpeerings",
    "KopfPeering": "kopfpeerings",
}


class ApiError(RuntimeError):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


_local = threading.local()
_config_lock = threading.Lock()
_configuration: kubernetes.client.Configuration | None = None


_impersonation: dict[str, str] = {}
# Per-call impersonation for servers acting for many users at once (the chat front-end): set by
# ``acting_as`` for the calls made inside it, in this task or thread only.
_acting_as: contextvars.ContextVar[tuple[str, tuple[str, ...]] | None] = contextvars.ContextVar(
    "opsgate_kube_acting_as", default=None
)


@contextlib.contextmanager
def acting_as(user: str, groups: Sequence[str] = ()) -> Iterator[None]:
    """Make the calls inside this block as ``user`` in ``groups`` (Kubernetes impersonation).

    The API server checks that the real credentials may impersonate, then authorizes and admits
    each call as that user: RBAC and the admission policies see the user, not this process.
    ``acall`` carries it into its worker thread (``asyncio.to_thread`` copies the context).
    """
    token = _acting_as.set((user, tuple(groups)))
    try:
        yield
    finally:
        _acting_as.reset(token)


def _headers(base: Mapping[str, str]) -> urllib3.HTTPHeaderDict:
    """The request's headers plus impersonation: one ``Impersonate-Group`` header per group.

    The API server reads each group from its own header (a comma is part of a group's name), so
    the headers go out as a multi-valued ``HTTPHeaderDict``, not a plain dict.
    """
    headers = urllib3.HTTPHeaderDict(dict(base))
    acting = _acting_as.get()
    if acting is None:
        for name, value in _impersonation.items():
            headers[name] = value
        return headers
    user, groups = acting
    headers["Impersonate-User"] = user
    for group in groups:
        headers.add("Impersonate-Group", group)
    return headers


def configure(
    kubeconfig: str | None = None,
    *,
    context: str | None = None,
    as_user: str | None = None,
    as_group: str | None = None,
) -> None:
    """Load credentials: in-cluster service account, else ``kubeconfig`` / ``$KUBECONFIG``.

    ``context`` picks a kubeconfig context, like ``kubectl --context``. ``as_user``/``as_group``
    impersonate, like ``kubectl --as/--as-group``; the API server checks that the real
    credentials may impersonate.
    """
    global _configuration
    _impersonation.clear()
    if as_user:
        _impersonation["Impersonate-User"] = as_user
        if as_group:
            _impersonation["Impersonate-Group"] = as_group
    with _config_lock:
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig or os.environ.get("KUBECONFIG"),
                context=context,
                client_configuration=configuration,
            )
        configuration.connection_pool_maxsize = 32
        _configuration = configuration
    _local.__dict__.pop("client", None)  # this thread's client was built for the old credentials


def server_url() -> str:
    """The API server's URL these credentials talk to."""
    if _configuration is None:
        configure()
    assert _configuration is not None
    return str(_configuration.host)


def kubeconfig_namespace(kubeconfig: str | None = None, *, context: str | None = None) -> str:
    """The namespace the kubeconfig's (current or named) context sets, as kubectl reads it; else ``default``."""
    try:
        contexts, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig or os.environ.get("KUBECONFIG")
        )
    except (kubernetes.config.ConfigException, OSError):
        return "default"
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")


def _client() -> kubernetes.client.ApiClient:
    # One ApiClient (and connection pool) per thread: ApiClient is not thread-safe to share.
    client: kubernetes.client.ApiClient | None = getattr(_local, "client", None)
    if client is None:
        if _configuration is None:
            configure()
        client = kubernetes.client.ApiClient(configuration=_configuration)
        _local.client = client
    return client


def path(api_version: str, kind_or_plural: str, namespace: str | None = None, name: str | None = None) -> str:
    plural = PLURALS.get(kind_or_plural, kind_or_plural)
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return f"{base}/{name}" if name else base


def request(
    method: str,
    url: str,
    *,
    body: Any = None,
    query: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    timeout: float = 30.0,
) -> Any:
    """One API call; the decoded JSON answer, or ``ApiError`` for any non-2xx status."""
    client = _client()
    method_, full_url, headers, payload, post = client.param_serialize(
        method,
        url,
        query_params=list((query or {}).items()),
        header_params={"Accept": "application/json", "Content-Type": content_type},
        body=body,
        auth_settings=["BearerToken"],
    )
    try:
        response = client.call_api(method_, full_url, _headers(headers), payload, post, _request_timeout=timeout)
    except kubernetes.client.ApiException as exc:
        raise _error(exc.status, exc.reason, exc.body) from None
    data = response.read()  # type: ignore[no-untyped-call]
    if not 200 <= response.status < 300:
        raise _error(response.status, response.reason, data)
    return json.loads(data) if data else None


def open_connection() -> None:
    """Build this thread's client and open its connection to the API server (a GET of /version).

    Each thread has its own client, whose first call pays a TCP and TLS handshake: done at
    start-up for every thread of the pool, the first requests after a start don't pay it.
    """
    request("GET", "/version")


def _error(status: int | None, reason: str | None, body: bytes | str | None) -> ApiError:
    try:
        parsed = json.loads(body or "{}")
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    return ApiError(int(status or 0), str(parsed.get("reason") or reason), str(parsed.get("message") or body))


def whoami() -> dict[str, Any]:
    """The caller's identity as the API server sees it (a SelfSubjectReview)."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    result = request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=review)
    user_info: dict[str, Any] = result["status"]["userInfo"]
    return user_info


def token_review(token: str, *, audiences: Sequence[str] = ()) -> dict[str, Any] | None:
    """Who the API server says holds ``token`` (its ``userInfo``), or None if it does not authenticate it.

    A TokenReview, made with this process's own credentials (never inside :func:`acting_as`): the
    caller needs ``create`` on ``tokenreviews``. With ``audiences``, the token must have been
    issued for one of them (a projected ServiceAccount token with that audience).
    """
    spec: dict[str, Any] = {"token": token}
    if audiences:
        spec["audiences"] = list(audiences)
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    with _acting_as_nobody():
        result = request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=review)
    status = result.get("status") or {}
    if not status.get("authenticated") or not (status.get("user") or {}).get("username"):
        return None
    if audiences and not set(audiences) & set(status.get("audiences") or ()):
        return None
    user: dict[str, Any] = status["user"]
    return user


@contextlib.contextmanager
def _acting_as_nobody() -> Iterator[None]:
    """This process's own identity for the calls inside, even within an :func:`acting_as` block."""
    token = _acting_as.set(None)
    try:
        yield
    finally:
        _acting_as.reset(token)


def can_i(*, verb: str, group: str, resource: str, namespace: str = "") -> bool:
    """Whether the caller (or the user of ``acting_as``) may ``verb`` ``resource``: a SelfSubjectAccessReview.

    Every authenticated user may ask this about themselves; an empty ``namespace`` asks about
    all namespaces.
    """
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "group": group, "resource": resource}},
    }
    result = request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
    return bool((result.get("status") or {}).get("allowed"))


def access_review(
    *,
    user: str,
    groups: Sequence[str],
    extra: Mapping[str, Sequence[str]],
    namespace: str,
    verb: str,
    group: str,
    resource: str,
    name: str,
) -> tuple[bool, str]:
    """Ask the API server whether ``user`` may ``verb`` ``resource``/``name`` (a SubjectAccessReview).

    Returns (allowed, the authorizer's reason). The caller needs ``create`` on
    ``subjectaccessreviews``; the answer is RBAC's (or any authorizer the cluster runs).
    """
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": list(groups),
            "extra": {k: list(v) for k, v in extra.items()},
            "resourceAttributes": {
                "namespace": namespace,
                "verb": verb,
                "group": group,
                "resource": resource,
                "name": name,
            },
        },
    }
    result = request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=review)
    status = result.get("status") or {}
    return bool(status.get("allowed")), str(status.get("reason") or status.get("evaluationError") or "")


def json_patch(api_version: str, kind: str, namespace: str, name: str, operations: list[dict[str, Any]]) -> Any:
    return request(
        "PATCH", path(api_version, kind, namespace, name), body=operations, content_type="application/json-patch+json"
    )


def create(body: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
    """Create ``body``; ``dry_run``: admitted and validated by the API server, not stored."""
    meta = body["metadata"]
    result: dict[str, Any] = request(
        "POST",
        path(body["apiVersion"], body["kind"], meta.get("namespace")),
        body=body,
        query={"dryRun": "All"} if dry_run else None,
    )
    return result


def ensure(body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Create ``body`` unless an object of that name exists; returns (object, created).

    Deterministic names make this idempotent: a replayed event or a restarted operator finds
    the object it made before instead of making a second one.
    """
    try:
        return create(body), True
    except ApiError as exc:
        if not exc.conflict:
            raise
    meta = body["metadata"]
    return get(body["apiVersion"], body["kind"], meta.get("namespace"), meta["name"]), False


def get(api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
    result: dict[str, Any] = request("GET", path(api_version, kind, namespace, name))
    return result


def get_or_none(api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    try:
        return get(api_version, kind, namespace, name)
    except ApiError as exc:
        if exc.not_found:
            return None
        raise


def list_objects(api_version: str, kind: str, namespace: str | None, *, labels: str | None = None) -> list[Any]:
    query = {"labelSelector": labels} if labels else None
    items: list[Any] = request("GET", path(api_version, kind, namespace), query=query).get("items", [])
    return items


def list_with_version(
    api_version: str, kind: str, namespace: str | None, *, labels: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """The objects and the list's resourceVersion, to start a :func:`watch` from."""
    query = {"labelSelector": labels} if labels else None
    answer = request("GET", path(api_version, kind, namespace), query=query)
    return list(answer.get("items", [])), str(answer["metadata"]["resourceVersion"])


def watch(
    api_version: str,
    kind: str,
    namespace: str | None,
    *,
    resource_version: str,
    labels: str | None = None,
    fields: str | None = None,
    timeout_seconds: int = 300,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The changes after ``resource_version``: (type, object) pairs, as the API server streams them.

    Ends when the server closes the watch (after ``timeout_seconds``); BOOKMARK events carry only
    a newer resourceVersion. An expired version (410 Gone, as an ERROR event or a status) raises
    ``ApiError`` with status 410: list again and start over.
    """
    query = {
        "watch": "true",
        "resourceVersion": resource_version,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": str(timeout_seconds),
    }
    if labels:
        query["labelSelector"] = labels
    if fields:
        query["fieldSelector"] = fields
    client = _client()
    method, full_url, headers, payload, post = client.param_serialize(
        "GET",
        path(api_version, kind, namespace),
        query_params=list(query.items()),
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    try:
        response = client.call_api(
            method, full_url, _headers(headers), payload, post, _request_timeout=timeout_seconds + 30
        )
    except kubernetes.client.ApiException as exc:
        raise _error(exc.status, exc.reason, exc.body) from None
    raw = response.response  # urllib3's, not yet read
    try:
        if not 200 <= response.status < 300:
            raise _error(response.status, response.reason, raw.read())
        pending = b""
        for chunk in raw.stream(65536, decode_content=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    raise ApiError(int(obj.get("code") or 500), str(obj.get("reason")), str(obj.get("message")))
                yield str(event["type"]), obj
    finally:
        raw.release_conn()


def write_status(obj: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """Merge-patch ``obj``'s status subresource, guarded by the resourceVersion it was read at.

    The one way OpsGate writes a status. If anyone wrote the object since it was read, the API
    server answers 409 (``ApiError.conflict``) and nothing is written: the caller reads again
    and decides again (see ``opsgate.handlers.reconcile``), so no decision is ever taken on a
    stale phase. Returns the object as written.
    """
    meta = obj["metadata"]
    url = path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"]) + "/status"
    body = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": dict(status)}
    result: dict[str, Any] = request("PATCH", url, body=body, content_type="application/merge-patch+json")
    return result


def add_finalizer(obj: Mapping[str, Any], finalizer: str) -> dict[str, Any]:
    """Add ``finalizer`` to ``obj`` (guarded by its resourceVersion: a 409 means read again)."""
    meta = obj["metadata"]
    present = list(meta.get("finalizers") or [])
    if finalizer in present:
        return dict(obj)
    operations = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
        {"op": "add", "path": "/metadata/finalizers", "value": [*present, finalizer]},
    ]
    result: dict[str, Any] = _guarded_patch(obj, operations)
    return result


def remove_finalizer(obj: Mapping[str, Any], finalizer: str) -> None:
    """Remove ``finalizer`` from ``obj`` (guarded by its resourceVersion)."""
    meta = obj["metadata"]
    present = list(meta.get("finalizers") or [])
    if finalizer not in present:
        return
    operations = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
        {"op": "replace", "path": "/metadata/finalizers", "value": [f for f in present if f != finalizer]},
    ]
    _guarded_patch(obj, operations)


def _guarded_patch(obj: Mapping[str, Any], operations: list[dict[str, Any]]) -> Any:
    """A JSON patch whose first operation tests the resourceVersion; a failed test is a conflict.

    The API server answers a failed ``test`` with 422; callers handle it like the 409 of a
    stale merge patch: read again, decide again (a patch invalid for another reason fails again
    after a bounded number of rounds).
    """
    meta = obj["metadata"]
    try:
        return json_patch(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"], operations)
    except ApiError as exc:
        if exc.status == 422:  # the API server words a failed test no better than any invalid patch
            raise ApiError(409, "Conflict", f"{meta['name']} changed since it was read: {exc.message}") from None
        raise


MAX_EVENT_MESSAGE = 1024  # what kubectl describe shows in full; longer messages are cut


def post_event(
    obj: Mapping[str, Any], *, type: str, reason: str, message: str, now: datetime.datetime, component: str = "opsgate"
) -> dict[str, Any]:
    """Create a core/v1 Event about ``obj`` (what kopf.event posts, for code outside kopf's handlers)."""
    meta = obj["metadata"]
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name'][:200]}.", "namespace": meta.get("namespace") or "default"},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        },
        "type": type,
        "reason": reason,
        "message": message[:MAX_EVENT_MESSAGE],
        "source": {"component": component},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    return create(event)


def delete_all(api_version: str, kind: str, namespace: str, *, labels: str) -> None:
    """Delete every ``kind`` in ``namespace`` matching ``labels`` (dependents in the background)."""
    query = {"labelSelector": labels, "propagationPolicy": "Background"}
    request("DELETE", path(api_version, kind, namespace), query=query)


async def acall(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking call of this module in a worker thread."""
    return await asyncio.to_thread(func, *args, **kwargs)


def merge_patch(api_version: str, kind: str, namespace: str, name: str, body: Mapping[str, Any]) -> Any:
    """A JSON merge patch of the object (metadata or spec; status has :func:`write_status`)."""
    return request(
        "PATCH", path(api_version, kind, namespace, name), body=dict(body), content_type="application/merge-patch+json"
    )

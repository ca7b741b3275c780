"""The kopf layer: watch OpsRequests, Approvals and Jobs; read, call the state machine, write.

Run with ``opsgate operator`` (or ``kopf run -m opsgate.handlers``). Every handler ends in
:func:`reconcile`, which observes one OpsRequest (the request, its Approval, Job and
pods at the names it uses), asks :func:`opsgate.controller.machine.advance` what
to do, creates what it says (deterministic names: a replay finds them), writes the status
through :func:`opsgate.kube.write_status` (optimistic locking), posts the Events, and goes
round again with what it now observes until there is nothing to do. No handler decides a
transition: this module only knows which events are worth a look.

* OpsRequest events: a new request (planned here), an Approved one (its Job is created), and at
  start-up every Running one (its Job may have ended or vanished while no operator was looking);
* Approval events: a decision was appended (tallied), the Approval was deleted;
* one timer per pending Approval, at its ``expiresAt``;
* executor Jobs: one watch on the executor namespace (:mod:`opsgate.adapters.job_watch`) says
  when a Job finished or vanished.

OpsRequest events are watched with ``on.event`` and no kopf bookkeeping: the phase in status
is the progress marker, so the API server sees one status write per decision and nothing else.
A failed reconcile is retried with backoff by this process (``on.event`` handlers are not).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import dataclasses
import datetime
import gc
import logging
import socket
import threading
import time
import typing
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import kopf

from opsgate import catalog as catalog_module
from opsgate import kube, metrics, parsing, paths, resources
from opsgate.adapters import llm_provider
from opsgate.adapters.job_watch import JobWatch
from opsgate.alerts import autonomy
from opsgate.alerts import routes as alert_routes
from opsgate.audit import exchanges
from opsgate.controller import (
    approvals,
    conditions,
    context_batch,
    deferral,
    jobs,
    machine,
    peering,
    phases,
    planning,
)
from opsgate.policy import PolicyLoadError, PolicySet
from opsgate.policy.reload import PolicyFolder
from opsgate.resources import ApprovalState, Phase
from opsgate.settings import Settings

if typing.TYPE_CHECKING:
    from opsgate.adapters.auditdb.hook import Auditor

GROUP, VERSION = resources.GROUP, resources.VERSION
API_THREADS = 32
RECONCILE_SLOTS = 32  # requests in reconcile at once; each waits on the API server most of the time
EVENT_POSTERS = 8  # Events kopf posts at once; each in flight holds a TLS connection of its own
# kopf keeps a poster per object this long after its last Event, in one of the EVENT_POSTERS
# slots: at its default (1 s) eight slots post about eight Events a second, and at 10 requests a
# second the decisions' Events trailed by 1.3 s (p50) to 2.7 s and kept growing (bench/reconcile.py).
EVENT_POSTER_IDLE_SECONDS = 0.05
LISTING_CHUNK = 500  # objects per page of a watch's first list
KOPF_WORKERS = 256  # objects kopf handles at once (per watched resource)
KOPF_WORKER_IDLE_SECONDS = 0.2
NAMESPACE_LABELS_SECONDS = 30.0
MAX_ROUNDS = 8  # create → write → create → write … a request needs at most 4; conflicts add rounds
RETRY_DELAYS = (1, 2, 5, 10, 30, 60)  # seconds between attempts of a reconcile that failed
# A launch waiting behind the decisions keeps the request as last written (its turn starts from it
# instead of reading it again) while no more than this many wait; in a backlog the rest read it
# (bench/backlog.py: 64 kept here and in the context queue took the peak from 296 to 301 MB).
LAUNCHES_KEEPING_THEIR_REQUEST = 16
CONTEXT_WAIT_AT_RUNNING = 0.1  # seconds the Running write waits for a context being retrieved
WARMUP_TEXT = "scale the deployment warmup to 1 replicas in dev"

log = logging.getLogger("opsgate")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# --- start-up ---------------------------------------------------------------------------------


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Load the catalog, policies, parser and retriever once, and warm them before serving."""
    own: Settings = memo.get("settings") or Settings.from_env()
    memo["settings"] = own
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.posting.level = logging.WARNING  # our transitions are posted explicitly
    # With replicas, Events say which one acted (`kubectl get events -o wide`: SOURCE), not "kopf/dev".
    settings.posting.reporting_component = "opsgate"
    settings.posting.reporting_instance = own.instance or socket.gethostname()
    settings.peering.lifetime = 15  # a killed leader is replaced within ~15 s, not 60
    settings.watching.server_timeout = 300
    # A backlog's first list arrives in pages, not as one document of every request; and kopf,
    # left unbounded, posts each object's Events concurrently, over a new TLS connection each:
    # 5,000 decisions at once held ~40 MB in connection buffers (bench/backlog.py, memray).
    settings.watching.chunk_size = LISTING_CHUNK
    settings.posting.worker_limit = EVENT_POSTERS
    settings.posting.idle_timeout = EVENT_POSTER_IDLE_SECONDS
    # kopf gives every object a worker of its own, and keeps it 5 s after its last event: with a
    # backlog's first list that was thousands of workers at once, each holding its object. A
    # bounded pool whose workers leave when idle held 5,000 requests in ~60 MB less, and drained
    # them no slower (bench/backlog.py); a request waiting for a reconcile slot is held by its
    # own task, not by a worker (request_event).
    settings.queueing.worker_limit = KOPF_WORKERS
    settings.queueing.idle_timeout = KOPF_WORKER_IDLE_SECONDS
    settings.networking.request_timeout = 60

    kube.configure(own.kubeconfig)
    home = paths.home()
    catalog = catalog_module.load_catalog(home / "policies" / "actions.yaml")
    policies = PolicySet.load(home / "policies")
    llm = _llm(own, catalog)
    routes_file = home / "policies" / alert_routes.ROUTES_FILE
    engine = planning.Engine(
        catalog=catalog,
        policies=policies,
        home=home,
        executor_image=own.executor_image,
        llm=llm,
        matcher=_matcher(own, catalog),
        context=_context(own, writer=getattr(llm, "write", None)),  # an external provider answers questions too
        approval_ttl=own.approval_ttl,
        authorizer=_authorize,
        routes=alert_routes.load_routes(routes_file, actions=catalog) if routes_file.is_file() else None,
    )
    memo["engine"] = engine
    memo["base_catalog"] = catalog  # what learned phrases are layered on (opsgate.audit_events)
    memo["policy_watch"] = asyncio.get_running_loop().create_task(
        _keep_policies(memo, own, PolicyFolder(home / "policies"))
    )
    memo["jobs"] = jobs.JobSettings(
        image=own.executor_image,
        namespace=own.executor_namespace,
        service_account=own.executor_service_account,
        node_selector=dict(own.executor_node_selector),
        tolerations=own.executor_tolerations,
        extra_env={**dict(own.executor_env), **({"VAULT_ADDR": own.vault_addr} if own.vault_addr else {})},
    )
    controller = memo["controller"] = Controller()
    memo["context_batch"] = batch = context_batch.ContextBatch(
        lambda bodies: planning.retrieve_contexts(bodies, engine=memo["engine"]),
        lambda queued: _deliver_context(memo, queued),
        decisions=controller.undecided,
    )
    memo["context_task"] = asyncio.get_running_loop().create_task(batch.run())
    # API calls wait on the network, not the CPU: a pool larger than asyncio's default (6 threads
    # on 2 cores) keeps status writes from queueing behind each other.
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="opsgate-api")
    )
    started = time.monotonic()
    _watch_jobs(memo, own.executor_namespace)
    await _seed(controller, own.namespaces)
    await _open_api_connections(API_THREADS)
    await _warm_up(engine)
    await _warm_up_launch(memo["jobs"])
    # What start-up loaded (catalog, policies, models, tables) lives as long as the process: out of
    # the collector's sight, a full collection walks only what requests allocate, not all of it.
    gc.collect()
    gc.freeze()
    if own.metrics_port:
        metrics.serve(own.metrics_port)
    log.info(
        "OpsGate ready: %d catalog actions, %d policies (loaded in %.2fs, warmed in %.2fs), parser %s",
        len(catalog.entries),
        len(policies.rules),
        policies.load_seconds,
        time.monotonic() - started,
        llm_provider.describe(own) + (" with the semantic matcher" if engine.matcher else ""),
    )


async def _keep_policies(memo: kopf.Memo, own: Settings, folder: PolicyFolder) -> None:
    """Reload the catalog and policies when their files change (the chart's ConfigMap is updated in place).

    A change that does not load leaves the last good policies in use and says why in the log; a
    request decided before the change keeps its decision (its Approval is bound to its plan's digest).
    """
    while True:
        await asyncio.sleep(own.policy_check_seconds)
        try:
            loaded = await asyncio.to_thread(folder.changed)
        except (catalog_module.CatalogError, PolicyLoadError) as exc:
            log.error("policies in %s changed but do not load; the last good ones stay in use: %s", folder.folder, exc)
            continue
        if loaded is None:
            continue
        engine: planning.Engine = memo["engine"]
        if engine.llm is not None and hasattr(engine.llm, "catalog"):
            engine.llm.catalog = loaded.catalog
        routes_file = folder.folder / alert_routes.ROUTES_FILE
        try:
            routes = alert_routes.load_routes(routes_file, actions=loaded.catalog) if routes_file.is_file() else None
        except alert_routes.RoutesError as exc:
            log.error("alert routes in %s do not load; the last good policies stay in use: %s", routes_file, exc)
            continue
        memo["base_catalog"] = loaded.catalog
        memo["engine"] = dataclasses.replace(
            engine,
            catalog=loaded.catalog,
            policies=loaded.policies,
            matcher=_matcher(own, loaded.catalog) if engine.matcher is not None else None,
            routes=routes,
        )
        log.info(
            "policies reloaded from %s: %d catalog actions, %d policies",
            folder.folder,
            len(loaded.catalog.entries),
            len(loaded.policies.rules),
        )


def _llm(own: Settings, catalog: catalog_module.Catalog) -> parsing.LlmParser | None:
    # None: the rule parser alone (the offline default); Ollama or an OpenAI-compatible endpoint
    try:
        return llm_provider.from_settings(own, catalog)
    except llm_provider.ProviderConfigError as exc:
        raise kopf.PermanentError(str(exc)) from None  # stops the operator: retrying cannot fix a setting


def _matcher(own: Settings, catalog: catalog_module.Catalog) -> parsing.Matcher | None:
    if not own.semantic_matcher:
        return None
    from opsgate.rag.embedding import default_embedder  # the model loads only when the matcher is on

    return parsing.Matcher(catalog, default_embedder())


def _context(own: Settings, *, writer: Any = None) -> planning.ContextSource:
    from opsgate.adapters import rag_context  # imports the embedder only when the operator starts

    source = rag_context.open_source(own, writer=writer)
    source.start_indexing(paths.home())  # its embedded index, built and kept current in the background
    return source


async def _authorize(question: planning.AccessQuestion) -> planning.AccessAnswer:
    """Kubernetes RBAC decides who may run what: verb ``execute`` on ``actions.opsgate.dev/<key>``."""
    allowed, reason = await kube.acall(
        kube.access_review,
        user=question.user,
        groups=question.groups,
        extra=question.extra,
        namespace=question.namespace,
        verb="execute",
        group=resources.GROUP,
        resource="actions",
        name=question.action,
    )
    return planning.AccessAnswer(allowed=allowed, reason=reason)


async def _open_api_connections(threads: int) -> None:
    """Start every thread of the API pool, each with its client and an open connection.

    The pool starts a new thread whenever none is idle, and each new thread's first call opens a
    connection of its own (TCP and TLS): without this, the first requests after a start, and the
    first moments of a burst, pay those handshakes. (On its own it did not measurably speed up the
    first requests of bench/reconcile.py; the launch's dry run did, see :func:`_warm_up_launch`.)
    A barrier holds each call until all are running, so each lands on a thread of its own.
    """
    gate = threading.Barrier(threads)

    def open_one() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=5)  # (a pool smaller than ``threads``: the rest go on without waiting)
        kube.open_connection()

    opened = await asyncio.gather(*(kube.acall(open_one) for _ in range(threads)), return_exceptions=True)
    failed = [exc for exc in opened if isinstance(exc, BaseException)]
    if failed:  # a cold connection is slower, not wrong
        log.warning("%d of %d API connections did not open at start-up: %s", len(failed), threads, failed[0])


async def _warm_up(engine: planning.Engine) -> None:
    """Plan one request and retrieve once, so the first real request is as fast as the hundredth.

    The parser's tables, the CEL programs, the JSON-schema validators and the embedder are all
    built on first use; without this the first requests after a start pay for them.
    """
    body = {
        "metadata": {"name": "warm-up", "namespace": "default", "uid": "warm-up"},
        "spec": {"request": WARMUP_TEXT, "requester": "opsgate-warm-up"},
    }
    try:
        offline = dataclasses.replace(engine, authorizer=None)  # the warm-up asks the API server nothing
        await planning.plan_request(body, engine=offline, now=_now(), history={}, namespace_labels={})
        if engine.context is not None:
            await planning.retrieve_context(body, engine=engine)
    except Exception:  # a cold first request is slower, not wrong
        log.exception("warming up the planning path failed; the first requests will be slower")


async def _warm_up_launch(executor: jobs.JobSettings) -> None:
    """Create a Job as the API server's dry run: nothing is stored or run.

    The API server builds what it needs for a kind on its first write of it (admission, field
    management), and the first Jobs' launches slowed the decisions made beside them: the first
    requests after a start took 37-40 ms to decide against 14 for the next ones, and none did
    when every request was a dry run (bench/reconcile.py). It also says at start-up, not at the
    first approved request, when the executor namespace is missing or this operator may not
    create Jobs there.
    """
    request = {"metadata": {"name": "warm-up", "namespace": "default", "uid": "00000000-warm-up"}, "spec": {}}
    plan = {"digest": "sha256:" + "0" * 64, "action": "warm-up"}
    try:
        await kube.acall(kube.create, jobs.build(request=request, plan=plan, settings=executor), dry_run=True)
    except kube.ApiError as exc:
        log.warning("a dry run of the executor's Job was refused: %s", exc)


@kopf.on.probe(id="catalog")
def catalog_probe(memo: kopf.Memo, **_: Any) -> int:
    engine: planning.Engine = memo["engine"]
    return len(engine.catalog.entries)


# --- what planning reads from the cluster: history (rate limits), namespace labels (tags) ------


class Controller:
    """What this process keeps between reconciles: locks, what planning reads, pending retries.

    * one lock per request, so two handlers never reconcile the same request at once;
    * one lock per requester around planning, and a ledger of each requester's planned requests
      of the last hour, so a burst from one requester is counted exactly: seeded by one list at
      start-up, kept current by this process's own decisions and by watch events (another
      replica's, before a fail-over);
    * each namespace's labels (the environment, the tags policy's project and cost-center), read
      once at start-up and again when older than NAMESPACE_LABELS_SECONDS.

    (kopf's indexes would do the last two, but every object's handlers wait until all objects are
    indexed, with wake-ups that grow with the square of the backlog.)
    """

    def __init__(self) -> None:
        self.locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.ledger: dict[str, dict[str, tuple[str, str]]] = {}  # requester -> uid -> (created, action)
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self.namespace_read: dict[str, float] = {}  # namespace -> when its labels were read (monotonic)
        self.retries: dict[str, asyncio.Task[None]] = {}
        self.written: dict[str, Phase] = {}  # uid -> the phase this process last wrote (until terminal)
        self.expiry: dict[str, asyncio.TimerHandle] = {}  # pending Approval uid -> its expiry timer
        # Requests reconciled at once. A backlog found at start-up (or a burst) is worked through
        # in arrival order, a few dozen at a time, instead of 5,000 half-planned requests sharing
        # the CPU and the memory until the first of them is decided.
        self.slots = asyncio.Semaphore(RECONCILE_SLOTS)
        self.job_watch: JobWatch | None = None
        self.audit: Auditor | None = None  # the audit store's recorder (opsgate.audit_events), if configured
        self.undecided = deferral.Undecided()  # new requests being decided or waiting to be
        # uid -> "waiting" while its Job's launch waits behind the decisions, "due" once it may go
        self.launches: dict[str, str] = {}
        self.queued: set[str] = set()  # uids of new requests waiting for a reconcile slot outside kopf

    @property
    def deciding(self) -> bool:
        """Are new requests being decided (or waiting to be)? The steps that can wait wait for them."""
        return bool(self.undecided)

    def wrote(self, uid: str, phase: Phase) -> None:
        if phase not in (Phase.PENDING, Phase.PLANNING):
            self.undecided.discard(uid)  # decided: what waits behind it need not wait for the rest of it
        if phase in phases.TERMINAL:
            self.written.pop(uid, None)
        else:
            self.written[uid] = phase

    def behind(self, uid: str, phase: Phase) -> bool:
        """True if ``phase`` comes before the one this process already wrote for the request."""
        written = self.written.get(uid)
        return written is not None and phases.can_move(phase, written)

    def lock(self, key: str) -> asyncio.Lock:
        lock = self.locks.get(key)
        if lock is None:
            lock = self.locks[key] = asyncio.Lock()
        return lock

    def history(self, requester: str) -> list[tuple[str | None, str]]:
        """The requester's planned requests: (created, action)."""
        return list(self.ledger.get(requester, {}).values())

    def record(self, request: Mapping[str, Any], *, now: datetime.datetime) -> None:
        """Count ``request`` in its requester's ledger if it has a plan and is of the last hour."""
        meta, spec = request["metadata"], request.get("spec") or {}
        action = ((request.get("status") or {}).get("plan") or {}).get("action")
        created, requester = meta.get("creationTimestamp"), spec.get("requester")
        if not action or not created or not requester:
            return
        cutoff = now - planning.RATE_WINDOW
        if approvals.parse_time(created) < cutoff:
            return
        mine = self.ledger.setdefault(requester, {})
        mine[meta["uid"]] = (created, action)
        for old in [u for u, (c, _) in mine.items() if approvals.parse_time(c) < cutoff]:
            del mine[old]


async def _seed(controller: Controller, namespaces: Sequence[str]) -> None:
    """One list each of OpsRequests and namespaces, before any request is planned."""
    now = _now()
    for namespace in namespaces or (None,):
        for request in await kube.acall(kube.list_objects, resources.API_VERSION, "OpsRequest", namespace):
            controller.record(request, now=now)
    for ns in await kube.acall(kube.list_objects, "v1", "Namespace", None):
        controller.namespace_labels[ns["metadata"]["name"]] = dict(ns["metadata"].get("labels") or {})
        controller.namespace_read[ns["metadata"]["name"]] = time.monotonic()


async def _namespace_labels(controller: Controller, namespace: str) -> dict[str, str]:
    """A namespace's labels, read at most every NAMESPACE_LABELS_SECONDS (a label change shows then)."""
    labels, read_at = controller.namespace_labels.get(namespace), controller.namespace_read.get(namespace, 0.0)
    if labels is None or time.monotonic() - read_at > NAMESPACE_LABELS_SECONDS:
        controller.namespace_read[namespace] = time.monotonic()
        found = await kube.acall(kube.get_or_none, "v1", "Namespace", None, namespace)
        labels = controller.namespace_labels[namespace] = dict(
            ((found or {}).get("metadata") or {}).get("labels") or {}
        )
    return dict(labels)


# --- the reconcile loop -------------------------------------------------------------------------


async def reconcile(
    memo: kopf.Memo,
    namespace: str,
    name: str,
    uid: str | None,
    *,
    seen: Mapping[str, Any] | None = None,
    finished_job: Mapping[str, Any] | None = None,
) -> None:
    """Observe, advance, act, write; until the state machine has nothing more to do.

    ``seen`` is the request as a watch event just delivered it: the first round starts from it
    instead of reading it again (if it is stale, the guarded write says so and it is read anew).
    ``finished_job``: its Job, finished, as the executor watch just delivered it (a finished Job
    does not change any more, so it is not read again).
    """
    controller: Controller = memo["controller"]
    async with controller.lock(f"{namespace}/{name}"), controller.slots:
        await _reconcile(memo, namespace, name, uid, seen=seen, job=finished_job)


async def _reconcile(
    memo: kopf.Memo,
    namespace: str,
    name: str,
    uid: str | None,
    *,
    seen: Mapping[str, Any] | None,
    job: Mapping[str, Any] | None,
) -> None:
    started = time.monotonic()
    request: dict[str, Any] | None = (
        _own_copy(seen)
        if seen is not None
        else await kube.acall(kube.get_or_none, resources.API_VERSION, "OpsRequest", namespace, name)
    )
    observed: machine.Observed | None = None
    batch: context_batch.ContextBatch = memo["context_batch"]
    for _round in range(MAX_ROUNDS):
        if request is None or (uid is not None and request["metadata"]["uid"] != uid):
            return  # gone (what it owned is garbage-collected), or a new request under the old name
        uid = request["metadata"]["uid"]
        if observed is None or observed.request is not request:
            # The Job read or created earlier in this reconcile is not read again: a change of it
            # since (it finished, or vanished) is the executor watch's news, and the reconcile that
            # news starts waits for this one's lock, then reads it.
            observed = await _observe(memo, request, job=observed.job if observed is not None else job)
        transition = machine.advance(observed, job_settings=memo["jobs"])
        if transition is None:
            return
        if transition.create:
            launch = any(m["kind"] == "Job" for m in transition.create)
            if launch and _launch_waits(memo, request):
                return  # decisions first: the launch is reconciled again behind them
            if launch:
                # Jobs live in the executor namespace, out of reach of owner references: the
                # request keeps a finalizer until they are deleted with it.
                try:
                    request = await kube.acall(kube.add_finalizer, request, jobs.FINALIZER)
                except kube.ApiError as exc:
                    if not exc.conflict:
                        raise
                    request = await kube.acall(kube.get_or_none, resources.API_VERSION, "OpsRequest", namespace, name)
                    continue
                observed = dataclasses.replace(observed, request=request)
                if planning.context_pending(observed.status):
                    # retrieved while the Job is created, and Running carries it (see below)
                    batch.want(request)
            results: list[dict[str, Any]] = []
            for manifest in transition.create:
                obj, made = await _create(manifest)
                results.append(obj)
                if not made:
                    break  # something was already there: the machine judges it before anything else is made
            context = await _context_for_running(batch, uid) if launch else batch.ready(uid)
            observed = _with_created(observed, results, context=context)
            continue
        try:
            request = await _write(request, transition, now=observed.now, controller=memo["controller"])
        except kube.ApiError as exc:
            if exc.not_found:
                return  # deleted since it was read
            if not exc.conflict:
                raise
            request = await kube.acall(kube.get_or_none, resources.API_VERSION, "OpsRequest", namespace, name)
            continue
        if "context" in transition.status:
            batch.written(uid)
        if transition.phase is Phase.AWAITING_APPROVAL or observed.phase is Phase.PENDING:
            metrics.RECONCILE_SECONDS.labels("decision").observe(time.monotonic() - started)
    raise kopf.TemporaryError(f"OpsRequest {namespace}/{name} did not settle in {MAX_ROUNDS} rounds", delay=1)


async def _context_for_running(batch: context_batch.ContextBatch, uid: str) -> context_batch.Context | None:
    """The context a launch's Running write carries: it waits a moment for one being retrieved.

    Else the context is a read of the request and a status write of its own: bench/reconcile.py
    counted 0.36 more status writes per request once the Job alone was created (no ConfigMap
    before it) and Running no longer found the context ready.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CONTEXT_WAIT_AT_RUNNING):
            return await batch.retrieved(uid)
    return batch.ready(uid)


def _own_copy(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request as delivered by a watch, copied to be reconciled: without its managedFields.

    Nothing here reads them (status writes are merge patches guarded by the resourceVersion),
    and they are most of a small request's body: a backlog's queued requests hold this copy.
    """
    meta = {key: value for key, value in body["metadata"].items() if key != "managedFields"}
    return copy.deepcopy({**body, "metadata": meta})


async def _observe(
    memo: kopf.Memo, request: dict[str, Any], *, job: Mapping[str, Any] | None = None
) -> machine.Observed:
    """Read what the state machine needs for the request's current phase, and no more.

    ``job``: the request's Job as this reconcile already knows it (then it is not read again).
    """
    now = _now()
    phase = phases.current((request.get("status") or {}).get("phase"))
    meta = request["metadata"]
    if phase in (Phase.PENDING, Phase.PLANNING):
        return machine.Observed(request, now, planned=await _plan(memo, request, now=now))
    approval_name, job_name = machine.expected_names(request)
    approval = None
    pods: list[Any] = []
    if approval_name and phase is not Phase.APPROVED:
        approval = await kube.acall(
            kube.get_or_none, resources.API_VERSION, "Approval", meta["namespace"], approval_name
        )
    executor: jobs.JobSettings = memo["jobs"]
    if phase is not Phase.RUNNING or not job_name:
        job = None
    elif job is None or job["metadata"].get("name") != job_name:
        job = await kube.acall(kube.get_or_none, "batch/v1", "Job", executor.namespace, job_name)
    if job is not None and jobs.finished(job):
        pods = await kube.acall(kube.list_objects, "v1", "Pod", executor.namespace, labels=f"job-name={job_name}")
    # Approved: the Job is not read but created; a 409 shows what is there instead.
    # Its context is queued when its launch starts (_reconcile), not while the launch may wait.
    context = None
    if phase is not Phase.APPROVED and planning.context_pending(request.get("status") or {}):
        # The rule parser decides without context; it is retrieved once the decision is written,
        # in a batch behind the decisions still waiting (opsgate.controller.context_batch).
        batch: context_batch.ContextBatch = memo["context_batch"]
        context = batch.ready(meta["uid"])
        if context is None:
            batch.want(request)
    return machine.Observed(request, now, approval=approval, job=job, pods=pods, context=context)


async def _plan(memo: kopf.Memo, request: dict[str, Any], *, now: datetime.datetime) -> planning.Planned:
    """Plan a new request; one requester's requests are planned one at a time (exact rate limits)."""
    engine: planning.Engine = memo["engine"]
    controller: Controller = memo["controller"]
    meta, requester = request["metadata"], str(request["spec"].get("requester", ""))
    exchanges.CURRENT.set(exchanges.RequestRef.of(request))  # the LLM exchanges of this planning are its own
    async with controller.lock(f"requester:{requester}"):
        started = time.monotonic()
        planned = await planning.plan_request(
            request,
            engine=engine,
            now=now,
            history=planning.history(controller.history(requester), catalog=engine.catalog, now=now),
            namespace_labels=await _namespace_labels(controller, meta["namespace"]),
            standing=await _standing(engine, request),
        )
        controller.record({**request, "status": {"plan": planned.plan}}, now=now)
    metrics.RECONCILE_SECONDS.labels("plan").observe(time.monotonic() - started)
    metrics.POLICY_SECONDS.observe(planned.timings.get("decide", 0.0))
    if engine.llm is not None and "parse" in planned.timings:
        fell_back = planned.status.get("intent", {}).get("parser") == "rules"
        metrics.LLM_SECONDS.labels("fallback" if fell_back else "ok").observe(planned.timings["parse"])
    return planned


async def _standing(engine: planning.Engine, request: Mapping[str, Any]) -> autonomy.Standing | None:
    """The record of the alert route ``request`` counts in, read from the route's requests."""
    route = autonomy.route_of(request, routes=engine.routes) if engine.routes is not None else None
    if route is None or engine.routes is None:
        return None
    selector = f"{alert_routes.LABEL_ROUTE}={route.name}"
    runs = await kube.acall(kube.list_objects, resources.API_VERSION, "OpsRequest", None, labels=selector)
    return autonomy.standing(route, runs, requester=engine.routes.requester, exclude=request["metadata"]["uid"])


async def _create(manifest: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Create an object the state machine asked for, or find the one already at its name.

    Returns (the object, whether this call made it): one found instead is observed, and the
    state machine judges whether it is ours.
    """
    try:
        obj, created = await kube.acall(kube.ensure, manifest)
    except kube.ApiError as exc:
        raise kopf.TemporaryError(f"can't create {manifest['kind']} yet: {exc}", delay=5) from exc
    if created and manifest["kind"] == "Job":
        metrics.JOBS.labels("created").inc()
    return obj, bool(created)


def _launch_waits(memo: kopf.Memo, request: dict[str, Any]) -> bool:
    """Should this Job's launch wait behind the requests still being decided? Then it is queued.

    A launch is a dozen API calls (ours, and the Job controller's, scheduler's and kubelet's that
    follow); in a burst they would be paid while other requesters still wait for their decision.
    It waits (``Undecided.behind``: at most ``deferral.MAX_DEFER`` seconds, never twice)
    in a task of its own, so its reconcile slot goes to the next decision meanwhile; then it queues
    for a slot like any reconcile. In a burst the launches follow within seconds; in a backlog
    found at start-up, behind the decisions already queued (every requester learns the decision
    first). Crash-safe: an Approved request without its Job is launched by the next start-up.

    Its turn starts from ``request`` as this reconcile last saw it, unless many launches wait or
    the request already holds the clean-up finalizer: adding that finalizer is a write guarded by
    the resourceVersion, so a request changed (or deleted) meanwhile is read again before any Job
    is made.
    """
    controller: Controller = memo["controller"]
    meta = request["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    state = controller.launches.get(uid)
    if state == "due" or (state is None and not controller.deciding):
        return False
    if state is None:
        controller.launches[uid] = "waiting"
        unguarded = jobs.FINALIZER in (meta.get("finalizers") or ())
        seen = None if unguarded or len(controller.launches) > LAUNCHES_KEEPING_THEIR_REQUEST else request

        async def launch() -> None:
            await controller.undecided.behind()
            controller.launches[uid] = "due"
            try:
                await _reconcile_if_acting(memo, namespace, name, uid, seen=seen)
            finally:
                controller.launches.pop(uid, None)

        _spawn(launch())
    return True  # queued now, or already (another event of the request met it waiting)


def _with_created(
    observed: machine.Observed, created: Sequence[dict[str, Any]], *, context: context_batch.Context | None
) -> machine.Observed:
    found = {obj["kind"]: obj for obj in created}
    return dataclasses.replace(
        observed,
        approval=found.get("Approval", observed.approval),
        job=found.get("Job", observed.job),
        context=observed.context or context,
    )


async def _write(
    request: dict[str, Any], transition: machine.Transition, *, now: datetime.datetime, controller: Controller
) -> dict[str, Any]:
    """Write the request's status (then its Approval's), post the Events; the request as written."""
    meta = request["metadata"]
    generation = int(meta.get("generation", 1))
    written: dict[str, Any] = request
    if transition.status or transition.conditions:
        old = request.get("status") or {}
        status = {
            **transition.status,
            "observedGeneration": generation,
            "conditions": conditions.apply(
                old.get("conditions"), transition.conditions, generation=generation, now=now
            ),
        }
        if controller.audit is None:
            written = await kube.acall(kube.write_status, request, status)
        else:  # the audit record of this write, its chain head stamped into the same write
            async with controller.audit.writing(request, status, notes=transition.notes, now=now) as status:
                written = await kube.acall(kube.write_status, request, status)
    if transition.approval_status is not None:
        await _write_approval_status(request, transition.approval_status)
    await _event(request, transition.notes)
    if transition.phase is not None:
        controller.wrote(meta["uid"], transition.phase)
        decision = ((written.get("status") or {}).get("policy") or {}).get("decision", "none")
        metrics.REQUESTS.labels(transition.phase.value, decision).inc()
        if transition.phase in (Phase.SUCCEEDED, Phase.FAILED):
            metrics.JOBS.labels(transition.phase.value.lower()).inc()
    return written


async def _write_approval_status(request: Mapping[str, Any], approval_status: Mapping[str, Any]) -> None:
    name = ((request.get("status") or {}).get("approval") or {}).get("name")
    meta = request["metadata"]
    for _attempt in range(MAX_ROUNDS):
        approval = await kube.acall(kube.get_or_none, resources.API_VERSION, "Approval", meta["namespace"], name)
        if approval is None:
            return
        try:
            await kube.acall(kube.write_status, approval, approval_status)
            return
        except kube.ApiError as exc:
            if not exc.conflict:
                raise
    raise kopf.TemporaryError(f"Approval {meta['namespace']}/{name} kept changing while it was updated", delay=1)


async def _event(obj: Mapping[str, Any], notes: Sequence[planning.Note]) -> None:
    """Post one Kubernetes Event about ``obj`` for a transition.

    A transition with several notes is one Event, named after the last step: Events cost the
    API server as much as the writes they describe. kopf queues and sends it when the reconcile
    runs inside a kopf handler; kopf keeps its event queue only there, so a reconcile woken by
    the Job watch or an expiry timer (where ``kopf.event`` has no queue) posts it itself - else
    the Succeeded/Failed Events of every outcome the watch reported were lost.
    """
    if not notes:
        return
    body = obj if isinstance(obj, kopf.Body) else kopf.Body(typing.cast(kopf.RawBody, dict(obj)))
    kind = "Warning" if any(n.type == "Warning" for n in notes) else "Normal"
    message = "; ".join(n.message for n in notes)
    try:
        kopf.event(body, type=kind, reason=notes[-1].reason, message=message)
    except LookupError:  # not in a kopf handler's context: no event queue
        try:
            await kube.acall(kube.post_event, obj, type=kind, reason=notes[-1].reason, message=message, now=_now())
        except kube.ApiError as exc:  # an Event is worth a log line, not a failed reconcile
            log.warning("could not post the %s event of %s: %s", notes[-1].reason, obj["metadata"]["name"], exc)


# --- what wakes the loop up ----------------------------------------------------------------------


async def _reconcile_with_retry(
    memo: kopf.Memo,
    namespace: str,
    name: str,
    uid: str | None,
    attempt: int = 0,
    *,
    seen: Mapping[str, Any] | None = None,
    finished_job: Mapping[str, Any] | None = None,
) -> None:
    """Reconcile now; if that fails, again later with backoff (``on.event`` handlers aren't retried)."""
    controller: Controller = memo["controller"]
    key = f"{namespace}/{name}"
    try:
        await reconcile(memo, namespace, name, uid, seen=seen, finished_job=finished_job)
    except Exception as exc:
        delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
        log.warning("reconciling OpsRequest %s failed (%s); retrying in %ss", key, exc, delay)

        async def later() -> None:
            await asyncio.sleep(delay)
            controller.retries.pop(key, None)
            await _reconcile_with_retry(memo, namespace, name, uid, attempt + 1)

        if key not in controller.retries:
            controller.retries[key] = asyncio.create_task(later())


def _worth_a_look(
    status: Mapping[str, Any], spec: Mapping[str, Any], meta: Mapping[str, Any], *, listing: bool = False
) -> bool:
    """New requests, Approved ones whose Job is still to be created, deleted ones to clean up after.

    ``listing``: the object comes from the watch's first list (start-up, or a fail-over to this
    replica). Then Running requests are looked at too: their Job may have finished or vanished
    while no operator watched it.
    """
    if meta.get("deletionTimestamp"):
        return jobs.FINALIZER in (meta.get("finalizers") or ())
    phase = phases.current(status.get("phase"))
    if phase in (Phase.PENDING, Phase.PLANNING):
        return True
    if phase is Phase.APPROVED:
        return not spec.get("dryRun") and not status.get("job")
    if phase is Phase.RUNNING:
        return listing
    return planning.context_pending(status)


@kopf.on.event(GROUP, VERSION, resources.OPSREQUEST_PLURAL, id="request")
async def request_event(
    body: kopf.Body, type: str | None, status: kopf.Status, spec: kopf.Spec, memo: kopf.Memo, **_: Any
) -> None:
    meta = body["metadata"]
    if type != "DELETED" and status.get("plan"):
        memo["controller"].record(body, now=_now())  # counted for rate limits, whoever planned it
    if type == "DELETED" or not _worth_a_look(status, spec, meta, listing=type is None):
        return
    if meta.get("deletionTimestamp"):
        await clean_up(memo, body)
        return
    controller: Controller = memo["controller"]
    phase = phases.current(status.get("phase"))
    if controller.behind(meta["uid"], phase):
        return  # an event from before this process's own last write: that step is done
    # A step queued behind the decisions reads the request anew when its turn comes: an event of a
    # request whose launch or context waits needs no reconcile (in a backlog, thousands would wait
    # for a reconcile slot, each holding its whole body).
    uid = meta["uid"]
    if uid in controller.launches or uid in memo["context_batch"] or uid in controller.queued:
        return
    new = phase in (Phase.PENDING, Phase.PLANNING)
    if new:
        controller.undecided.add(uid)
        if controller.slots.locked():
            # A backlog or a burst: the request waits for a slot in a task of its own, with its body
            # as a plain dict, and kopf's worker for it is let go (5,000 of them waiting held ~40 KB
            # each, bench/backlog.py).
            controller.queued.add(uid)
            _spawn(_decide_queued(memo, _own_copy(body)))
            return
    try:
        await _reconcile_with_retry(memo, meta["namespace"], meta["name"], uid, seen=body)
    finally:
        if new:
            controller.undecided.discard(uid)


async def _decide_queued(memo: kopf.Memo, request: dict[str, Any]) -> None:
    """A new request queued while every reconcile slot was taken: decided when its turn comes."""
    controller: Controller = memo["controller"]
    meta = request["metadata"]
    try:
        await _reconcile_with_retry(memo, meta["namespace"], meta["name"], meta["uid"], seen=request)
    finally:
        controller.queued.discard(meta["uid"])
        controller.undecided.discard(meta["uid"])


async def _deliver_context(memo: kopf.Memo, queued: Mapping[str, Any]) -> None:
    """Reconcile a request whose context is retrieved, unless it was written with a step due anyway.

    An allowed request's context is retrieved while its Job is created, and its Running write
    carries it if it is ready by then: this waits for that reconcile, and skips a second one (a
    read of the request and its Job) when the context is written. ``queued`` is the request as
    the batch kept it: its whole body (the reconcile starts from it) or its name and text only.
    """
    controller: Controller = memo["controller"]
    batch: context_batch.ContextBatch = memo["context_batch"]
    meta = queued["metadata"]
    async with controller.lock(f"{meta['namespace']}/{meta['name']}"):
        pass  # a reconcile of the request under way (its launch) ends first
    if batch.ready(meta["uid"]) is not None:
        seen = queued if "status" in queued else None
        await _reconcile_with_retry(memo, meta["namespace"], meta["name"], meta["uid"], seen=seen)


async def clean_up(memo: kopf.Memo, request: Mapping[str, Any]) -> None:
    """A deleted request: delete its Jobs in the executor namespace (their pods with them), then let it go.

    Under the request's lock: a launch under way (one that read the request before it was
    deleted) ends first, and its Job is deleted here with the others.
    """
    executor: jobs.JobSettings = memo["jobs"]
    controller: Controller = memo["controller"]
    namespace, name = request["metadata"]["namespace"], request["metadata"]["name"]
    async with controller.lock(f"{namespace}/{name}"):
        selector = jobs.request_selector(request)
        await kube.acall(kube.delete_all, "batch/v1", "Job", executor.namespace, labels=selector)
        current = await kube.acall(kube.get_or_none, resources.API_VERSION, "OpsRequest", namespace, name)
        if current is not None and current["metadata"]["uid"] == request["metadata"]["uid"]:
            await kube.acall(kube.remove_finalizer, current, jobs.FINALIZER)


@kopf.on.event(GROUP, VERSION, resources.APPROVAL_PLURAL, id="approval")
async def approval_event(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """A decision appended (or the Approval deleted): the request's machine tallies it."""
    controller: Controller = memo["controller"]
    meta = body["metadata"]
    state = (body.get("status") or {}).get("state", ApprovalState.PENDING.value)
    if type == "DELETED" or state != ApprovalState.PENDING.value:
        timer = controller.expiry.pop(meta["uid"], None)
        if timer is not None:
            timer.cancel()
        if type != "DELETED":
            return
    else:
        _expire_when_due(memo, body)
    ref = body["spec"]["opsRequestRef"]
    await _reconcile_with_retry(memo, meta["namespace"], ref["name"], ref["uid"])


def _expire_when_due(memo: kopf.Memo, approval: Mapping[str, Any]) -> None:
    """One timer per pending Approval, at ``expiresAt`` (set again from the listing after a restart).

    When it fires, the request's machine sees the Approval expired and says so; a timer is a few
    hundred bytes, where a daemon per Approval cost a task, its state and a watch on its object.
    """
    controller: Controller = memo["controller"]
    meta, spec = approval["metadata"], approval["spec"]
    if meta["uid"] in controller.expiry:
        return
    due = approvals.parse_time(spec["expiresAt"])
    ref = spec["opsRequestRef"]

    def fire() -> None:
        remaining = (due - _now()).total_seconds()
        if remaining > 0:  # the loop's clock ran ahead of the wall clock: wait the rest
            controller.expiry[meta["uid"]] = asyncio.get_running_loop().call_later(remaining + 0.01, fire)
            return
        controller.expiry.pop(meta["uid"], None)
        _spawn(_reconcile_if_acting(memo, meta["namespace"], ref["name"], ref["uid"]))

    delay = max(0.0, (due - _now()).total_seconds()) + 0.01
    controller.expiry[meta["uid"]] = asyncio.get_running_loop().call_later(delay, fire)


# --- executor Jobs -------------------------------------------------------------------------------

_background: set[asyncio.Task[None]] = set()


def _spawn(coroutine: typing.Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` as a task the loop keeps a reference to until it ends."""
    task = asyncio.get_running_loop().create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


def _watch_jobs(memo: kopf.Memo, namespace: str) -> None:
    """Start the executor namespace's Job watch in its own thread; its news reconcile the request."""
    loop = asyncio.get_running_loop()
    controller: Controller = memo["controller"]

    def job_moment(job: Mapping[str, Any]) -> None:  # in the watch's thread
        found = jobs.request_of(job)
        if found is not None:
            namespace_, name, uid = found
            finished = job if jobs.finished(job) else None  # (a vanished one is looked for anew)
            loop.call_soon_threadsafe(
                lambda: _spawn(_reconcile_if_acting(memo, namespace_, name, uid, finished_job=finished))
            )

    watch = controller.job_watch = JobWatch(namespace, job_moment)
    threading.Thread(target=watch.run, name="opsgate-job-watch", daemon=True).start()


async def _reconcile_if_acting(
    memo: kopf.Memo,
    namespace: str,
    name: str,
    uid: str,
    *,
    seen: Mapping[str, Any] | None = None,
    finished_job: Mapping[str, Any] | None = None,
) -> None:
    """Reconcile for the Job watch, an expiry timer or a launch's turn, unless this replica is a standby.

    kopf pauses only its own handlers while a higher-priority peer lives; these two run beside
    them, so they read the peering object themselves (what they miss while paused, kopf's
    listing on resuming delivers: Running requests and pending Approvals are looked at then).
    """
    own: Settings = memo["settings"]
    if own.peering:
        kind, where = ("KopfPeering", namespace) if own.namespaces else ("ClusterKopfPeering", None)
        found = await kube.acall(kube.get_or_none, "kopf.dev/v1", kind, where, own.peering)
        if peering.outranked((found or {}).get("status"), own.priority, now=_now()):
            return
    await _reconcile_with_retry(memo, namespace, name, uid, seen=seen, finished_job=finished_job)


@kopf.on.cleanup()
async def stop_watching(memo: kopf.Memo, **_: Any) -> None:
    for task in (memo.get("policy_watch"), memo.get("context_task")):
        if task is not None:
            task.cancel()
    controller: Controller | None = memo.get("controller")
    if controller is not None:
        if controller.job_watch is not None:
            controller.job_watch.stop.set()
        for timer in controller.expiry.values():
            timer.cancel()

"""The words the rule parser knows: verbs, resource nouns, and which pairs name which action.

Kept as data, apart from the matching code, so adding a synonym is a one-line change that a
reviewer can read. A word may belong to several verb classes ("remove" deletes a mailbox but
revokes access); the resource noun it is paired with picks the catalog entry. Pure data.
"""

from __future__ import annotations

import enum


class Verb(enum.StrEnum):
    CREATE = "create"
    DELETE = "delete"
    SCALE = "scale"
    RESTART = "restart"
    ROTATE = "rotate"
    ISSUE = "issue"
    REVOKE = "revoke"
    ENABLE = "enable"
    GRANT = "grant"
    QUERY = "query"
    SUMMARIZE = "summarize"
    SCAN = "scan"
    GENERATE = "generate"
    AUDIT = "audit"
    # An operation the catalog has no entry for. Knowing it keeps it from being read as a nearby
    # verb ("roll back" is not "roll") or from leaving a noun to be read on its own.
    UNSUPPORTED = "unsupported"


class Noun(enum.StrEnum):
    EMAIL = "email"
    WEBSITE = "website"
    CLUSTER = "cluster"
    NAMESPACE = "namespace"
    DEPLOYMENT = "deployment"
    SERVICE = "service"
    REPLICAS = "replicas"
    DNS_RECORD = "dns_record"
    SECRET = "secret"  # noqa: S105 -- a resource noun, not a password
    CERT = "cert"
    MTLS = "mtls"
    USER = "user"
    ACCESS = "access"
    SERVICE_ACCOUNT = "service_account"
    LOGS = "logs"
    METRICS = "metrics"
    INCIDENTS = "incidents"
    VULNERABILITIES = "vulnerabilities"
    SBOM = "sbom"
    IMAGE = "image"


V = Verb
N = Noun

# Operations the catalog has no entry for (see ``Verb.UNSUPPORTED``).
_UNSUPPORTED = (
    "roll back", "rollback", "revert", "upgrade", "downgrade", "drain", "cordon", "uncordon",
    "backup", "back up", "restore", "migrate", "patch", "bring back",
)  # fmt: skip

# word or phrase -> verb classes
VERBS: dict[str, frozenset[Verb]] = {
    phrase: frozenset(classes)
    for phrase, classes in {
        "create": {V.CREATE, V.ISSUE, V.GENERATE},
        "make": {V.CREATE, V.GENERATE, V.GRANT},  # "make lena cluster-admin"
        "add": {V.CREATE, V.GRANT},
        "new": {V.CREATE, V.ISSUE},
        "provision": {V.CREATE},
        "setup": {V.CREATE},
        "set up": {V.CREATE},
        "spin up": {V.CREATE},
        "stand up": {V.CREATE},
        "launch": {V.CREATE},
        "build": {V.CREATE, V.GENERATE},
        "open": {V.CREATE},
        "register": {V.CREATE},
        "onboard": {V.CREATE},
        "deploy": {V.CREATE},
        "host": {V.CREATE},
        "point": {V.CREATE},
        "delete": {V.DELETE, V.REVOKE},
        "remove": {V.DELETE, V.REVOKE},
        "drop": {V.DELETE, V.REVOKE},
        "kill": {V.DELETE},
        "clean up": {V.DELETE},
        "cleanup": {V.DELETE},
        "destroy": {V.DELETE},
        "tear down": {V.DELETE},
        "teardown": {V.DELETE},
        "take down": {V.DELETE},
        "shut down": {V.DELETE},
        "get rid of": {V.DELETE},
        "decommission": {V.DELETE},
        "deprovision": {V.DELETE},
        "offboard": {V.DELETE},
        "deactivate": {V.DELETE},
        "close": {V.DELETE},
        "purge": {V.DELETE},
        "nuke": {V.DELETE},
        "terminate": {V.DELETE},
        "retire": {V.DELETE},
        "scale": {V.SCALE},
        "scale up": {V.SCALE},
        "scale down": {V.SCALE},
        "scale out": {V.SCALE},
        "bring": {V.SCALE},  # "bring payments down to 1 replica"; "bring back" is a rollback
        "resize": {V.SCALE},
        "shrink": {V.SCALE},
        "grow": {V.SCALE},
        "bump": {V.SCALE},
        "increase": {V.SCALE},
        "decrease": {V.SCALE},
        "reduce": {V.SCALE},
        "set": {V.SCALE},
        "restart": {V.RESTART},
        "reboot": {V.RESTART},
        "bounce": {V.RESTART},
        "recycle": {V.RESTART},
        "cycle": {V.RESTART, V.ROTATE},
        "redeploy": {V.RESTART},
        "rotate": {V.ROTATE},
        "roll": {V.ROTATE, V.RESTART},  # the noun decides: "roll the creds" / "roll the pods"
        "kick": {V.RESTART},
        "regenerate": {V.ROTATE},
        "refresh": {V.ROTATE},
        "reset": {V.ROTATE},
        "renew": {V.ISSUE, V.ROTATE},
        "issue": {V.ISSUE},
        "request": {V.ISSUE},
        "generate": {V.ISSUE, V.GENERATE},
        "get": {V.ISSUE, V.QUERY},
        "revoke": {V.REVOKE},
        "invalidate": {V.REVOKE},
        "withdraw": {V.REVOKE},
        "take away": {V.REVOKE},
        "strip": {V.REVOKE},
        "enable": {V.ENABLE},
        "turn on": {V.ENABLE},
        "switch on": {V.ENABLE},
        "enforce": {V.ENABLE},
        "activate": {V.ENABLE},
        "require": {V.ENABLE},
        "grant": {V.GRANT},
        "give": {V.GRANT, V.QUERY},
        "assign": {V.GRANT},
        "allow": {V.GRANT},
        "let": {V.GRANT},  # "let sam view the monitoring namespace"; "let's" is a token of its own
        "show": {V.QUERY},
        "display": {V.QUERY},
        "fetch": {V.QUERY},
        "pull": {V.QUERY},
        "tail": {V.QUERY},
        "look at": {V.QUERY},
        "inspect": {V.QUERY},
        "view": {V.QUERY},
        "see": {V.QUERY},
        "query": {V.QUERY},
        "graph": {V.QUERY},
        "plot": {V.QUERY},
        "check": {V.QUERY, V.SCAN},
        "list": {V.QUERY},
        "summarize": {V.SUMMARIZE},
        "summarise": {V.SUMMARIZE},
        "summary": {V.SUMMARIZE},
        "recap": {V.SUMMARIZE},
        "overview": {V.SUMMARIZE},
        "digest": {V.SUMMARIZE},
        "scan": {V.SCAN},
        "produce": {V.GENERATE},
        "export": {V.GENERATE},
        "audit": {V.AUDIT},
        "review": {V.AUDIT},
        "need": {V.CREATE, V.ISSUE, V.QUERY},
        "needs": {V.CREATE, V.ISSUE, V.QUERY},  # exact, so no typo correction makes it "need" and keeps it
        "want": {V.CREATE, V.ISSUE, V.QUERY},
        "wants": {V.CREATE, V.ISSUE, V.QUERY},
        "like": {V.CREATE, V.ISSUE, V.QUERY},
        **{phrase: {V.UNSUPPORTED} for phrase in _UNSUPPORTED},
    }.items()
}

# word or phrase -> resource nouns
NOUNS: dict[str, frozenset[Noun]] = {
    phrase: frozenset(nouns)
    for phrase, nouns in {
        "email": {N.EMAIL},
        "emails": {N.EMAIL},
        "e-mail": {N.EMAIL},
        "mailbox": {N.EMAIL},
        "mailboxes": {N.EMAIL},
        "inbox": {N.EMAIL},
        "mail account": {N.EMAIL},
        "email account": {N.EMAIL},
        "email address": {N.EMAIL},
        "website": {N.WEBSITE},
        "hosting": {N.WEBSITE},  # "set up hosting for www.acme.io"
        "web hosting": {N.WEBSITE},
        "websites": {N.WEBSITE},
        "site": {N.WEBSITE},
        "web site": {N.WEBSITE},
        "webpage": {N.WEBSITE},
        "homepage": {N.WEBSITE},
        "cluster": {N.CLUSTER},
        "clusters": {N.CLUSTER},
        "namespace": {N.NAMESPACE},
        "namespaces": {N.NAMESPACE},
        "ns": {N.NAMESPACE},
        "deployment": {N.DEPLOYMENT},
        "deployments": {N.DEPLOYMENT},
        "pods": {N.DEPLOYMENT},
        "pod": {N.DEPLOYMENT},
        "app": {N.DEPLOYMENT},
        "workload": {N.DEPLOYMENT},
        "microservice": {N.DEPLOYMENT},
        "service": {N.SERVICE},
        "svc": {N.SERVICE},
        "replicas": {N.REPLICAS},
        "replica": {N.REPLICAS},
        "dns record": {N.DNS_RECORD},
        "dns": {N.DNS_RECORD},
        "dns entry": {N.DNS_RECORD},
        "record": {N.DNS_RECORD},
        "records": {N.DNS_RECORD},
        "cname": {N.DNS_RECORD},
        "mx": {N.DNS_RECORD},
        "txt": {N.DNS_RECORD},
        "aaaa": {N.DNS_RECORD},
        "secret": {N.SECRET},
        "secrets": {N.SECRET},
        "credential": {N.SECRET},
        "credentials": {N.SECRET},
        "creds": {N.SECRET},
        "password": {N.SECRET},
        "passwords": {N.SECRET},
        "api key": {N.SECRET},
        "api keys": {N.SECRET},
        "api token": {N.SECRET},
        "api tokens": {N.SECRET},
        "keys": {N.SECRET},
        "token": {N.SECRET},
        "tokens": {N.SECRET},
        "certificate": {N.CERT},
        "certificates": {N.CERT},
        "cert": {N.CERT},
        "certs": {N.CERT},
        "mtls": {N.MTLS},
        "mutual tls": {N.MTLS},
        "mutual-tls": {N.MTLS},
        "user": {N.USER},
        "users": {N.USER},
        "user account": {N.USER},
        "username": {N.USER},
        "account": {N.USER},
        "login": {N.USER},
        "access": {N.ACCESS},
        "role": {N.ACCESS},
        "roles": {N.ACCESS},
        "permission": {N.ACCESS},
        "permissions": {N.ACCESS},
        "rights": {N.ACCESS},
        "privileges": {N.ACCESS},
        "rolebinding": {N.ACCESS},
        "cluster-admin": {N.ACCESS},
        "admin": {N.ACCESS},
        "editor": {N.ACCESS},
        "viewer": {N.ACCESS},
        "service account": {N.SERVICE_ACCOUNT},
        "serviceaccount": {N.SERVICE_ACCOUNT},
        "sa": {N.SERVICE_ACCOUNT},
        "robot account": {N.SERVICE_ACCOUNT},
        "bot account": {N.SERVICE_ACCOUNT},
        "logs": {N.LOGS},
        "log": {N.LOGS},
        "metrics": {N.METRICS},
        "metric": {N.METRICS},
        "cpu": {N.METRICS},
        "memory": {N.METRICS},
        "latency": {N.METRICS},
        "error rate": {N.METRICS},
        "request rate": {N.METRICS},
        "throughput": {N.METRICS},
        "incidents": {N.INCIDENTS},
        "incident": {N.INCIDENTS},
        "outages": {N.INCIDENTS},
        "outage": {N.INCIDENTS},
        "vulnerabilities": {N.VULNERABILITIES},
        "vulnerability": {N.VULNERABILITIES},
        "vulns": {N.VULNERABILITIES},
        "vuln": {N.VULNERABILITIES},
        "cves": {N.VULNERABILITIES},
        "cve": {N.VULNERABILITIES},
        "sbom": {N.SBOM},
        "bill of materials": {N.SBOM},
        "image": {N.IMAGE},
        "images": {N.IMAGE},
    }.items()
}

# Phrases that are a whole request shape on their own ("who has access" = audit access).
IDIOMS: dict[str, tuple[frozenset[Verb], frozenset[Noun]]] = {
    **{
        phrase: (frozenset({V.AUDIT}), frozenset({N.ACCESS}))
        for phrase in (
            "who has access",
            "who can access",
            "who has permissions",
            "who has rights",
            "access review",
            "access audit",
            "who accessed",
        )
    },
    **{
        phrase: (frozenset({V.RESTART}), frozenset({N.DEPLOYMENT})) for phrase in ("rollout restart", "rolling restart")
    },
}

# "I need a cluster", "we'd like the logs": a verb only when the text has no other verb.
DESIRE = frozenset({"need", "needs", "want", "wants", "like"})

# Words after which a verb's -ing or -ed form asks for the action: "the token needs rotating",
# "the cert needs to be renewed", "checkout should be restarted". Elsewhere such a form describes
# ("the namespace created yesterday") and is not read as a verb.
NEED_FORMS = frozenset({"needs", "need", "needed", "be", "been"})


class Strength(enum.StrEnum):
    STRONG = "strong"  # the noun names the resource ("restart deployment web")
    WEAK = "weak"  # the noun only hints at it ("restart frontend in namespace web")


# catalog key -> verb classes that can name it, nouns (with strength) that can name it
TRIGGERS: dict[str, tuple[frozenset[Verb], dict[Noun, Strength]]] = {
    key: (frozenset(verbs), nouns)
    for key, verbs, nouns in (
        ("provision.create.email", {V.CREATE}, {N.EMAIL: Strength.STRONG}),
        ("provision.delete.email", {V.DELETE}, {N.EMAIL: Strength.STRONG}),
        ("provision.create.website", {V.CREATE}, {N.WEBSITE: Strength.STRONG}),
        ("provision.delete.website", {V.DELETE}, {N.WEBSITE: Strength.STRONG}),
        ("provision.create.cluster", {V.CREATE}, {N.CLUSTER: Strength.STRONG}),
        ("provision.delete.cluster", {V.DELETE}, {N.CLUSTER: Strength.STRONG}),
        ("provision.create.namespace", {V.CREATE}, {N.NAMESPACE: Strength.STRONG}),
        ("provision.delete.namespace", {V.DELETE}, {N.NAMESPACE: Strength.STRONG}),
        (
            "provision.scale.deployment",
            {V.SCALE},
            {
                N.DEPLOYMENT: Strength.STRONG,
                N.REPLICAS: Strength.STRONG,
                N.SERVICE: Strength.STRONG,
                N.NAMESPACE: Strength.WEAK,
            },
        ),
        (
            "provision.restart.deployment",
            {V.RESTART},
            {N.DEPLOYMENT: Strength.STRONG, N.SERVICE: Strength.STRONG, N.NAMESPACE: Strength.WEAK},
        ),
        ("provision.create.dns_record", {V.CREATE}, {N.DNS_RECORD: Strength.STRONG}),
        ("security.rotate.secret", {V.ROTATE}, {N.SECRET: Strength.STRONG}),
        ("security.issue.cert", {V.ISSUE}, {N.CERT: Strength.STRONG}),
        ("security.revoke.cert", {V.REVOKE}, {N.CERT: Strength.STRONG}),
        ("security.enable.mtls", {V.ENABLE}, {N.MTLS: Strength.STRONG}),
        ("identity.create.user", {V.CREATE}, {N.USER: Strength.STRONG}),
        ("identity.delete.user", {V.DELETE}, {N.USER: Strength.STRONG}),
        ("identity.grant.access", {V.GRANT}, {N.ACCESS: Strength.STRONG}),
        ("identity.revoke.access", {V.REVOKE}, {N.ACCESS: Strength.STRONG}),
        ("identity.create.service_account", {V.CREATE}, {N.SERVICE_ACCOUNT: Strength.STRONG}),
        ("observability.query.logs", {V.QUERY}, {N.LOGS: Strength.STRONG}),
        ("observability.query.metrics", {V.QUERY}, {N.METRICS: Strength.STRONG}),
        ("observability.summarize.incidents", {V.SUMMARIZE, V.QUERY}, {N.INCIDENTS: Strength.STRONG}),
        (
            "compliance.scan.vulnerabilities",
            {V.SCAN, V.QUERY},
            {
                N.VULNERABILITIES: Strength.STRONG,
                N.IMAGE: Strength.WEAK,
                N.NAMESPACE: Strength.WEAK,
                N.DEPLOYMENT: Strength.WEAK,
            },
        ),
        ("compliance.generate.sbom", {V.GENERATE, V.QUERY}, {N.SBOM: Strength.STRONG}),
        ("compliance.audit.access", {V.AUDIT}, {N.ACCESS: Strength.STRONG, N.NAMESPACE: Strength.WEAK}),
    )
}

# Read-only entries a noun alone can name when the text has no verb ("payments logs, last hour").
NOUN_ONLY: dict[Noun, str] = {
    N.LOGS: "observability.query.logs",
    N.METRICS: "observability.query.metrics",
    N.INCIDENTS: "observability.summarize.incidents",
    N.SBOM: "compliance.generate.sbom",
    N.VULNERABILITIES: "compliance.scan.vulnerabilities",
}

# Verbs that name their resource when the text names none: "restart nginx" restarts a
# deployment, "offboard tmiller" deletes a user. Only verbs with one reading on a platform team
# are here: "reboot" (machines), "roll" and "cycle" (secrets), "increase" (disks) are not.
IMPLIED_NOUNS: dict[str, Noun] = {
    "restart": N.DEPLOYMENT,
    "bounce": N.DEPLOYMENT,
    "recycle": N.DEPLOYMENT,
    "redeploy": N.DEPLOYMENT,
    "kick": N.DEPLOYMENT,
    "scale": N.DEPLOYMENT,
    "scale up": N.DEPLOYMENT,
    "scale down": N.DEPLOYMENT,
    "scale out": N.DEPLOYMENT,
    "onboard": N.USER,
    "offboard": N.USER,
    # "grant alice edit on ops", "let sam view monitoring": a person, then a role word, is access
    # (the implied reading needs the role too, so "let me know" and "allow traffic" name nothing)
    "grant": N.ACCESS,
    "allow": N.ACCESS,
    "let": N.ACCESS,
}

# Words for a person that come before their username ("contractor ext.li", "new hire kim").
PERSON_WORDS = frozenset(
    {
        "contractor", "engineer", "employee", "intern", "hire", "colleague", "developer", "teammate",
        "consultant", "freelancer", "guest", "person", "joiner", "leaver", "member", "staff",
    }
)  # fmt: skip

# Things people ask to act on that the catalog does not hold. When one is the object of the verb
# ("create a jira ticket for the login bug"), a catalog noun later in the text does not make the
# request a catalog action.
FOREIGN_OBJECTS = frozenset(
    {
        "ticket", "issue", "bug", "meeting", "laptop", "computer", "pc", "machine", "server", "vm",
        "node", "nodes", "database", "db", "bucket", "volume", "disk", "firewall", "router", "pr",
        "budget", "document", "doc", "spreadsheet", "invoice", "printer", "wiki",
    }
)  # fmt: skip

# Verbs of everyday life: a request that opens with one is not an operations request.
FOREIGN_VERBS = frozenset(
    {
        "send", "write", "order", "book", "buy", "play", "translate", "tell", "remind", "call",
        "draw", "compose", "cook", "find", "search", "read", "print", "forward", "reply", "sing",
        "explain", "describe", "message", "schedule", "sell", "pay",
    }
)  # fmt: skip

# Words that never name a resource (articles, pronouns, politeness, prepositions).
_STOPWORDS_WORDS = """a an the this that these those my our your their his her its me us you i we it them
    please kindly could would can will should you pls plz thanks thank hey hi hello now asap
    urgent urgently immediately for of from to in on at with by into onto as and or but also
    new named called name type value ttl all some any every each every one off up down over
    across within since last past previous recent recently this week day hour today yesterday
    is are be do does did need want like id i'd some more less than via using use"""
STOPWORDS = frozenset(_STOPWORDS_WORDS.split())

_POLITENESS_WORDS = """please kindly could would can will you pls plz hey hi hello i i'd id we need want
    like to just quickly urgent urgently now asap ok okay so let's lets go ahead and"""
POLITENESS = frozenset(_POLITENESS_WORDS.split())

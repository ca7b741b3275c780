"""Finding entity candidates in a tokenised request, before we know which action it names.

Each finder looks for one kind of value (emails, domains, images, regions, durations, sizes,
counts, record types, roles…) or for a *cue* that marks a name ("cluster legacy-batch",
"the billing namespace", "named sandbox", "dave's"). :mod:`opsgate.parsing.slots` later puts the
candidates into the chosen entry's parameters. Pure functions.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re

from opsgate import entities
from opsgate.catalog import Verb
from opsgate.parsing import vocabulary
from opsgate.parsing.tokens import Token

_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_USERNAME = re.compile(r"^[a-z0-9]([-._a-z0-9]*[a-z0-9])?$")
_EMAIL = re.compile(r"^[a-z0-9._%+-]+@([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_DOMAIN = re.compile(r"^([a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9])?\.)+([a-z]{2,63})$")
_IMAGE = re.compile(r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")
_INSTANCE = re.compile(r"^[a-z]\d[a-z]*\.(nano|micro|small|medium|large|xlarge|\d+xlarge|metal)$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_METRIC = re.compile(r"^[a-z_:][a-z0-9_:]*_[a-z0-9_:]*$")
# A Prometheus name by its conventional suffix, so "john_doe" is not read as one.
_METRIC_NAME = re.compile(
    r"^[a-z][a-z0-9_:]*_(?:total|seconds|bytes|count|sum|bucket|ratio|usage|percent|rate|info|errors|requests)$"
)
_TLDS_WORDS = """com org net io dev app co uk de fr eu ai cloud tech info biz us ca au nl es it ch se no jp
    in me sh xyz site online store shop page tv gov edu local internal example test be at dk fi
    pl pt br mx nz sg hk kr cn ru ie ninja sbs club space website digital network email live world blog
    news today top work agency studio media design solutions services tools systems zone
    cool fun rocks art codes cafe host software wiki social life city love best team chat link click run pro
    one gg ly fm cc group games ink community foundation events academy ventures"""
# Country codes ("test.bi", "shop.ke"), less those that are common file extensions ("main.py", "README.md",
# "lib.rs", "app.ps", "x.so", "build.mk", "a.cc") or surnames and words after an initial ("ext.li", "k.ng", "j.do")
_COUNTRY_TLDS = """ad ae af ag al ao aq ar aw ax az ba bb bd bf bg bh bi bj bm bn bo bq bs bt bw by bz cd cf cg ci ck
    cl cm cr cu cv cw cx cy cz dj dm dz ec ee eg er et fj fk fm fo ga gd ge gf gg gh gi gl gm gn gp gq
    gr gt gu gw gy hm hn hr ht il im iq ir je jm jo ke kg kh ki km kn kp kw ky kz lb lc lk lr ls lt lv
    mc mg mh ml mm mn mp mq mr mt mu mv mw mz nc nf np nr nu om pa pe pf pg ph pk pn pr pw qa re ro rw
    sa sb sd si sj sk sl sm sn sr ss sv sx sy sz tc td tf tg th tj tk tl tm tn tr tt tw tz ua ug uy uz
    va ve vg vi vn vu wf ws ye yt za zm zw"""
_TLDS = frozenset(_TLDS_WORDS.split()) | frozenset(_COUNTRY_TLDS.split())
# personal pronouns stand for a name said elsewhere ("he needs cluster-admin", "offboard him")
_PRONOUNS = frozenset(
    {"he", "she", "him", "her", "hers", "his", "they", "them", "their", "theirs", "we", "us", "you", "it"}
)
# never a name, even right after a noun or "name": "add blueqcloud as a user, she joins …", "(email, name, etc.)"
_NEVER_NAMES = (
    _PRONOUNS
    | {"etc", "eg", "ie", "has", "have", "had", "was", "were", "been"}
    | {"myself", "yourself", "ourselves", "themselves", "himself", "herself", "itself", "yourselves", "own"}
    # relative pronouns: "the users who have some access" names nobody
    | {"who", "whom", "whose", "which", "that"}
    # linking adverbs and time words, never a name even right after a noun: "and therefore namespace
    # can be deleted", "only granted during incidents", "offboard the user completely", "gets its
    # own namespace later", "setup SA so that …"
    | {"therefore", "thus", "hence", "only", "during", "completely", "entirely", "later", "soon", "so"}
    | {"anyway", "until", "after", "before", "while", "whilst", "again", "still", "already", "once"}
    # participles that report the ask: "namespace creation requested for x"
    | {"requested", "required", "needed", "approved", "wanted"}
)
_NOT_NAMES = frozenset(
    {"kubernetes", "k8s", "eks", "gke", "aks", "team", "tls", "ssl", "vault", "database", "db", "http"}
    | {"number", "count", "size", "kubectl", "usage", "utilization", "utilisation"}
    # adjectives that come before a resource noun ("the current secret", "the old cluster")
    | {"current", "old", "existing", "latest", "previous", "same", "other", "whole", "entire"}
    | {"about", "affecting", "regarding", "concerning"}
    | {"what", "which", "who", "whose", "where", "when", "why", "how", "any"}
    # quantifiers over the things named next ("restart both checkout and cart")
    | {"both", "either", "neither", "everything", "everyone", "anything", "others", "rest"}
    | vocabulary.PERSON_WORDS
    # personal pronouns stand for a name said elsewhere ("he needs cluster-admin", "offboard him")
    | _NEVER_NAMES
    # prepositions that stand where a name could: "a token per namespace"
    | {"per", "via", "without", "except", "including"}
    # what follows "in" in an idiom: "thanks in advance", "in case", "in general"
    | {"advance", "case", "general", "particular", "short", "fact", "addition", "total", "progress", "future"}
    # finite verbs after a subject: "the rebind service seems to be down"
    | {"seems", "seem", "appears", "appear", "looks", "keeps", "remains", "works", "fails", "failed", "lacks"}
    | {"has", "have", "had", "was", "were", "been"}
)
# "p99 latency", "p95": a percentile of a metric, not what it is measured on
_STATISTIC = re.compile(r"^p\d{1,3}(?:\.\d+)?$")
# What may follow a past participle that describes the noun before it: "the credentials used by
# billing", "the namespace created yesterday". A name ending in -ed ("fred") is followed by neither.
# what a service does with its logs and errors: "the logs that nginx wrote"
_EMITTING = frozenset(
    {"wrote", "written", "writes", "produced", "produces", "emitted", "emits", "logged", "logs", "threw", "throws",
     "raised", "printed", "prints", "generated", "sent"}
)  # fmt: skip
_PLACED = frozenset({"to", "in", "into", "on", "at", "from"})
_PARTICIPLE_FOLLOWERS = frozenset({"by", "yesterday", "today", "earlier", "recently", "last", "this", "ago"})

_DURATION = re.compile(
    r"\b(?:last|past|previous|since|within|this|over)\s+(?:(\d+)\s*([a-z]+)|(hour|day|week|month))\b"
    # "last day 9/20", "her last day is friday": someone's leaving date, not a time window
    r"(?!\s+(?:is|was|will)\b|\s+\d{1,2}[/.-]\d)"
)
_QUANTITY = re.compile(r"\b(\d+)\s*([a-z]+)\b")
_NODES = re.compile(r"\b(\d+|" + "|".join(entities.NUMBER_WORDS) + r")\s*(?:worker\s+)?nodes?\b")
_REPLICAS = re.compile(r"\b(\d+|" + "|".join(entities.NUMBER_WORDS) + r")\s*(?:replicas?|instances?|pods?|copies)\b")
_TO_NUMBER = re.compile(r"\bto\s+(\d+|" + "|".join(entities.NUMBER_WORDS) + r")\b(?![%.])(?:\s*([a-z%]+))?")
# "replicas on checkout to 4", "replica count of api to 2": the replica noun, then the count
_REPLICAS_TO = re.compile(r"\breplicas?\b(?:\s+\S+){0,6}?\s+to\s+(?:\d+|" + "|".join(entities.NUMBER_WORDS) + r")\b")
# "to 5 nodes", "to 2 gb", "to 3 hours", "to 50 %": a count of something other than replicas
_NOT_REPLICA_UNITS = frozenset({"node", "nodes", "percent"})
_TLS_OFF = re.compile(
    r"\b(?:without|no|disable|disabled|skip)\s+(?:tls|ssl|https)\b|\b(?:tls|ssl|https)\s+(?:off|disabled)\b"
)
_TLS_ON = re.compile(r"\b(?:with|enable|enabled)\s+(?:tls|ssl|https)\b|\b(?:tls|ssl|https)\s+(?:on|enabled)\b")
_TTL = re.compile(
    r"\bttl\s*(?:of|=|:|to)?\s*(\d+)\s*([a-z]+)?"
    r"|\b(\d+)[\s-]*(seconds?|minutes?|hours?|days?)\s+ttl\b"
)
_GROUPS = re.compile(r"\bgroups?\s+(.*)")


class Cue(enum.StrEnum):
    """What marked a name in the text."""

    NAMED = "named"  # "named X", "called X", "call it X", "…for the payments team: X"
    CALLED = "called"  # the explicit naming alone: "named X", "called X", "call it X", "name it X"
    QUOTED = "quoted"
    NAMESPACE = "namespace"
    SERVICE = "service"
    DEPLOYMENT = "deployment"
    CLUSTER = "cluster"
    USER = "user"
    HANDLE = "handle"  # a form's labelled field: "GitHub ID: advsol-darrel"
    SERVICE_ACCOUNT = "service_account"
    SECRET = "secret"  # noqa: S105 -- a resource noun, not a password
    TELEMETRY = "telemetry"  # "the auth logs", "kubectl logs orders": whose logs/metrics/incidents
    FOR = "for"  # "for X", "of X", "from X", "on X"
    WHERE = "where"  # "on X", "in X": where a grant applies ("grant alice view on payments")
    IN = "in"  # "in X" alone: where a thing is ("the result pods in instavote")
    TO = "to"
    POSSESSIVE = "possessive"


# The catalog's nouns (``policies/actions.yaml``) whose word marks the name next to it; a noun
# of another name marks none. :mod:`opsgate.parsing.slots` reads the cues by resource type.
_NOUN_CUES = {
    "namespace": Cue.NAMESPACE,
    "service": Cue.SERVICE,
    "deployment": Cue.DEPLOYMENT,
    "cluster": Cue.CLUSTER,
    "user": Cue.USER,
    "service_account": Cue.SERVICE_ACCOUNT,
    "secret": Cue.SECRET,
    "logs": Cue.TELEMETRY,
    "metrics": Cue.TELEMETRY,
    "incidents": Cue.TELEMETRY,
}
# Kinds of log or telemetry, not services: "server logs", "container logs", "system metrics"
_LOG_KINDS = frozenset(
    {"server", "application", "system", "container", "pod", "node", "cluster", "access", "audit", "error", "debug",
     "event", "events", "request", "build", "job", "runtime", "host", "kernel", "web", "backend", "frontend"}
)  # fmt: skip
_FOR_WORDS = frozenset({"for", "of", "from", "on", "about", "affecting", "regarding", "concerning"})
# "the orders service leaked": after a determiner, the word before the noun is its name
_DETERMINERS = frozenset({"the", "our", "my", "this", "that", "your", "their"})
_POINTING = frozenset({"point", "points", "pointing", "pointed"})
_NAME_WORDS = frozenset({"named", "called", "name"})
_NAME_VERBS = frozenset({"call", "name"})
_INTENSIFIERS = frozenset({"quite", "very", "really", "pretty", "so", "too", "most", "more", "less", "rather", "super"})
_RECORD_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT", "MX", "NS"})
# Words that open a clause after a record's value: "with value 297dbc6f7e so I can verify the domain"
_VALUE_ENDS = frozenset({"so", "because", "since", "for", "please", "thanks", "thank", "and", "to", "as"})
_OBJECT_WORDS = frozenset({"it", "them", "this", "that", "the", "a", "an", "up", "down", "out", "our", "my", "your"})
# Words after which comes a person's account name: "GitHub ID tmorik"
_HANDLE_WORDS = frozenset({"id", "handle", "uid", "userid", "user-id", "username", "login"})
# Verbs whose object is always a person: "offboard amyknox", "onboard kim.lee"
_PERSON_VERBS = frozenset({"offboard", "onboard", "offboarding", "onboarding"})
_SOMEONE = frozenset(
    {"someone", "somebody", "anyone", "anybody", "everyone", "everybody"}
)  # "onboard someone called bob"
# Before a handle word, what makes it a reference to another account: "mirror the account for username: x"
_REFERRING_BEFORE = frozenset({"for", "of", "as", "like", "than", "with", "from", "the", "that", "whose"})


@dataclasses.dataclass(frozen=True)
class Span:
    """A vocabulary match over tokens ``start..end`` (exclusive): verb classes and catalog nouns."""

    start: int
    end: int
    verbs: frozenset[Verb]
    nouns: frozenset[str]
    fuzzy: bool = False


@dataclasses.dataclass
class Found:
    """Entity candidates in order of appearance."""

    emails: list[str] = dataclasses.field(default_factory=list)
    domains: list[str] = dataclasses.field(default_factory=list)
    addresses: list[str] = dataclasses.field(default_factory=list)
    images: list[str] = dataclasses.field(default_factory=list)
    instance_types: list[str] = dataclasses.field(default_factory=list)
    regions: list[str] = dataclasses.field(default_factory=list)
    phrases: list[str] = dataclasses.field(default_factory=list)
    environment: str | None = None
    since: str | None = None
    quota: str | None = None
    node_count: int | None = None
    replicas: int | None = None
    to_number: int | None = None
    ttl: int | None = None
    record_type: str | None = None
    role: str | None = None
    level: str | None = None
    metric: str | None = None
    groups: list[str] = dataclasses.field(default_factory=list)
    tls: bool | None = None
    pointed_at: str | None = None  # the DNS name a record points to ("pointing to x.io")
    zone_record: tuple[str, str] | None = None  # a zone-file line's name and value ("CNAME x.io y.io 3600")
    trailing_value: str | None = None  # "... with value v=spf1 include:_spf.example.com ~all"
    record_value: str | None = None  # "TXT record abc123 on x.dev": the value right after the record noun
    cues: dict[Cue, list[str]] = dataclasses.field(default_factory=dict)

    def cue(self, *cues: Cue, exclude: tuple[str, ...] = ()) -> str | None:
        """The first name marked by the first of ``cues`` that marked one."""
        for cue in cues:
            for name in self.cues.get(cue, ()):
                if name not in exclude:
                    return name
        return None


def is_name(token: Token, *, username: bool = False, lenient: bool = False) -> bool:
    """Could this token be the name of a Kubernetes object (or a username)?

    ``lenient`` accepts vocabulary words too: right after "namespace" or "named" a word like
    "build" is a name, not a verb.
    """
    low = token.low
    pattern = _USERNAME if username else _K8S_NAME
    if token.phrase is not None or not pattern.match(low) or low.isdigit():
        return False
    if token.quoted:
        return True
    if low in vocabulary.STOPWORDS or low in entities.ENVIRONMENT_WORDS or low in entities.NUMBER_WORDS:
        return False
    if low in _NEVER_NAMES:
        return False
    return lenient or not (
        low in vocabulary.VERBS
        or token.noun
        or low in entities.ENVIRONMENT_WORDS
        or low in entities.ROLE_WORDS
        or low in entities.LEVEL_WORDS
        or low in entities.NUMBER_WORDS
        or low in _NOT_NAMES
        or _STATISTIC.match(low) is not None
        or _is_domain(low)
    )


_AFTER_BARE_NAME = frozenset({"from", "in", "over", "since", "during", "for", "at", "please"})


def _modifies_noun(tokens: tuple[Token, ...], i: int) -> bool:
    """Does the word at ``i`` qualify the noun after it ("removal of Openshift Access for x")?"""
    return i + 1 < len(tokens) and not tokens[i].stop and tokens[i + 1].noun and tokens[i].raw[:1].isupper()


def _bare_name_at(tokens: tuple[Token, ...], covered: set[int], i: int) -> bool:
    """A name at ``i`` that no resource noun follows ("of the sports-api from", not "of the payments team")."""
    if i >= len(tokens) or i in covered or not is_name(tokens[i], username=True):
        return False
    if tokens[i].low in vocabulary.FOREIGN_OBJECTS:
        return False  # "my account on the wiki"
    return tokens[i].stop or i + 1 == len(tokens) or tokens[i + 1].low in _AFTER_BARE_NAME


def _plural_phrase(tokens: tuple[Token, ...], span: Span) -> bool:
    """Is the noun at ``span`` a determined plural ("the pods"), a whole noun phrase?"""
    low = tokens[span.end - 1].low
    plural = low.endswith("s") and not low.endswith(("ss", "us", "is")) and len(low) > 3
    if not (span.start > 0 and tokens[span.start - 1].low in _DETERMINERS and plural):
        return False
    # "the pods pick it up": the word after takes an object, so it is a verb ("the namespaces a and b" are names)
    return span.end + 1 < len(tokens) and not tokens[span.end].stop and tokens[span.end + 1].low in _OBJECT_WORDS


def is_participle(tokens: tuple[Token, ...], i: int) -> bool:
    """Does the -ed word at ``i`` describe the noun before it ("created yesterday", "used by")?

    Either it is a form of a verb we know ("created", "scanned") or what follows says so ("used by").
    """
    low = tokens[i].low
    if tokens[i].quoted or not low.endswith("ed") or len(low) < 4:
        return False
    stem = low[:-2]
    # "creat|ed" -> "create", "scann|ed" -> "scan", "deploy|ed" -> "deploy"
    if any(base in vocabulary.VERBS for base in (stem, stem + "e", stem[:-1] if stem[-1] == stem[-2] else "")):
        return True
    if i + 1 < len(tokens) and tokens[i + 1].low in _PARTICIPLE_FOLLOWERS:
        return True
    # "an API key committed to the repo", "a token leaked in a public gist": a participle placing the
    # noun somewhere ("deployment shared in staging" names the deployment)
    return (
        len(low) >= 6
        and i + 2 < len(tokens)
        and tokens[i + 1].low in _PLACED
        and tokens[i + 2].low in ("the", "a", "an", "our", "your", "their", "my", "this", "its")
    )


def value_kind(token: Token) -> str | None:
    """What kind of value a token is, for telling two values of one kind apart ("a@x.io and b@x.io").

    ``name`` covers Kubernetes names and usernames; ``None`` is anything else (a word of the
    vocabulary, a number, a region, a quoted phrase).
    """
    low = token.low
    if token.phrase is not None or low.isdigit():
        return None
    if low in entities.ENVIRONMENT_WORDS and not token.quoted:
        return "environment"
    if _EMAIL.match(low):
        return "email"
    if _is_domain(low):
        return "domain"
    if _IMAGE.match(low) and ("/" in low or ":" in low):
        return "image"
    if _REGION.match(low) or _INSTANCE.match(low) or not is_name(token, username=True):
        return None
    return "name"


def is_metric_name(token: Token) -> bool:
    """Is this token a Prometheus metric name ("http_requests_total")?"""
    return not token.quoted and _METRIC_NAME.match(token.low) is not None


def _is_domain(low: str) -> bool:
    match = _DOMAIN.match(low)
    if match is None or _INSTANCE.match(low):
        return False
    tld = match.group(3)
    # "tls.peet.ws": a name of three or more labels ending in a country code is a host, whatever the code
    return tld in _TLDS or (len(tld) == 2 and low.count(".") >= 2)


def _address(raw: str) -> str | None:
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def find(tokens: tuple[Token, ...], spans: tuple[Span, ...]) -> Found:
    """Every entity candidate in the request."""
    found = Found()
    _find_values(tokens, found)
    _find_numbers(" ".join(t.low for t in tokens if t.phrase is None), found)
    _find_cues(tokens, spans, found)
    _find_zone_line(tokens, found)
    return found


def _find_zone_line(tokens: tuple[Token, ...], found: Found) -> None:
    """A record written as in a zone file, "CNAME x.is-cod.in y.github.io 3600": type, name, value, TTL."""
    for i in range(len(tokens) - 2):
        if tokens[i].raw.upper() not in _RECORD_TYPES or tokens[i].quoted:
            continue
        name, value = tokens[i + 1], tokens[i + 2]
        if not _is_domain(name.low) or not (_is_domain(value.low) or _address(value.raw) is not None):
            continue
        found.zone_record = (name.low, _address(value.raw) or value.low)
        if i + 3 < len(tokens) and tokens[i + 3].low.isdigit() and found.ttl is None:
            found.ttl = int(tokens[i + 3].low)
        return


# words that introduce an example of what was just named: "an image, let's say nginx"
_EXAMPLE_WORDS = frozenset({"lets", "let's", "say", "e.g", "eg", "namely", "like", "for", "example", "instance"})


def _after_image(tokens: tuple[Token, ...], i: int) -> bool:
    """Does the word at ``i`` follow "image", directly or after words that give an example?"""
    if tokens[i].low in _EXAMPLE_WORDS:
        return False
    j = i - 1
    while j >= 0 and i - j <= 3 and tokens[j].low in _EXAMPLE_WORDS and not tokens[j].stop:
        j -= 1
    return j >= 0 and tokens[j].low == "image" and not (j < i - 1 and tokens[j].stop)


def _find_values(tokens: tuple[Token, ...], found: Found) -> None:
    previous = ""
    cued: list[str] = []  # a bare word after "image", for when no reference is written out
    for i, token in enumerate(tokens):
        low = token.low
        nxt = tokens[i + 1].low if i + 1 < len(tokens) else ""
        if low == "value" and i + 1 < len(tokens) and found.trailing_value is None:
            # "with value 297dbc6f7e so I can verify the domain": the value ends where a clause opens
            rest = tokens[i + 1 :]
            ends = next((j for j, t in enumerate(rest) if j > 0 and t.low in _VALUE_ENDS), len(rest))
            found.trailing_value = " ".join(t.phrase or t.raw for t in rest[:ends])
        if previous in ("record", "entry") and found.record_value is None and _record_value(token):
            found.record_value = token.phrase or token.raw  # "add TXT record netlify-verify-4821 for x.ca"
        elif previous == "with" and found.record_value is None and "=" in low and token.phrase is None:
            found.record_value = token.raw  # "… for x.edu with google-site-verification=abc": a key=value
        if token.phrase is not None:
            found.phrases.append(token.phrase)
        elif token.quoted:
            found.phrases.append(token.raw)
            if _is_domain(low):
                found.domains.append(low)
        elif _EMAIL.match(low):
            found.emails.append(low)
        elif (address := _address(token.raw)) is not None:
            found.addresses.append(address)
        elif _INSTANCE.match(low):
            found.instance_types.append(low)
        elif _is_domain(low):
            found.domains.append(low)
            if previous in ("to", "at") and i >= 2 and tokens[i - 2].low in _POINTING:
                found.pointed_at = low  # "a cname pointing to hosting.gitbook.com for docs.acme.org"
            elif previous in ("be", "is", "=") and any(
                t.raw.upper() in _RECORD_TYPES for t in tokens[max(0, i - 4) : i]
            ):
                found.pointed_at = low  # "the CNAME should be x.github.io for y.sbs": the record's value
        elif _REGION.match(low):
            found.regions.append(low)
        elif _IMAGE.match(low) and ("/" in low or ":" in low):
            found.images.append(low)
        elif _IMAGE.match(low) and _after_image(tokens, i) and low not in vocabulary.POLITENESS | vocabulary.STOPWORDS:
            cued.append(low)  # "scan image nginx", "one docker image, let's say nginx, from docker hub"
        elif _METRIC.match(low) and (
            found.metric is None
            # "container_memory_working_set is … graph container_memory_working_set_bytes": the name with
            # Prometheus's unit suffix is the series itself
            or (_METRIC_NAME.match(low) and not _METRIC_NAME.match(found.metric) and low.startswith(found.metric))
        ):
            found.metric = low
        # not "dev ops tools", nor a stage of work: "the early phases of development"
        if (
            found.environment is None
            and low in entities.ENVIRONMENT_WORDS
            and nxt != "ops"
            and not (low == "development" and previous in ("of", "under", "active"))
        ):
            found.environment = entities.normalise_environment(low)
        if found.record_type is None:
            if token.raw.upper() in ("AAAA", "CNAME", "TXT", "MX") and token.raw.isalpha():
                found.record_type = token.raw.upper()
            elif low == "text" and nxt in ("record", "records", "entry"):
                found.record_type = "TXT"  # "a DNS TEXT record": the TXT type spelt out
            elif token.raw == "A" and nxt in ("record", "records"):
                found.record_type = "A"
        if found.role is None:
            pair = f"{low} {nxt}"
            if pair in ("read only", "cluster admin"):
                found.role = entities.ROLE_WORDS[pair.replace(" ", "-")]
            elif low in entities.ROLE_WORDS and (low not in ("read", "write") or nxt in ("access", "permission")):
                found.role = entities.ROLE_WORDS[low]  # "read access" is the read role; "read the logs" is not
        if found.level is None and low in entities.LEVEL_WORDS and nxt != "rate":
            found.level = entities.LEVEL_WORDS[low]
        if found.metric is None:
            pair = f"{low} {nxt}"
            if pair in entities.METRIC_WORDS:
                found.metric = entities.METRIC_WORDS[pair]
            elif low in entities.METRIC_WORDS and " " not in low:
                found.metric = entities.METRIC_WORDS[low]
        previous = low
    if not found.images:
        # "verify image integrity … an SBOM for ghcr.io/x/y": a written-out reference is the image
        found.images.extend(cued)


# "my name is Ian": a person introducing themselves names no resource
_OWNERS = frozenset({"my", "your", "his", "her", "their", "our"})
# What after a noun starts its predicate: "the cluster needs to go", "the namespace should be removed"
_PREDICATES = frozenset(
    {"needs", "need", "should", "must", "will", "would", "can", "could", "may", "might", "is", "are", "was", "were",
     "has", "have", "had", "isn't", "aren't", "wasn't", "doesn't", "don't"}
)  # fmt: skip
# "Full Name: Jenn Viau", "display name: …": a person's name, not the name of a resource
_PERSON_NAME = frozenset({"full", "first", "last", "given", "family", "display", "legal", "real", "sur"})


def _name_stated(tokens: tuple[Token, ...], at: int) -> str | None:
    """The name after "name" and a copula ("the name should be x", "name will be x", "name is x")."""
    lows = [t.low for t in tokens[at : at + 4]]
    for copula in (["should", "be"], ["will", "be"], ["would", "be"], ["can", "be"], ["is"], ["="]):
        end = at + len(copula)
        if lows[: len(copula)] == copula and end < len(tokens) and is_name(tokens[end], username=True, lenient=True):
            return tokens[end].low
    return None


def _names_the_action(token: Token) -> bool:
    """Is the token a verb of the vocabulary used as a noun ("deletion", "removal", "request")? A plain
    verb word after a noun is a name ("namespace build")."""
    low = token.low
    if low in _ABOUT_WORDS:
        return True  # "User account updates 6/9: delete …": what a heading is about, not a name
    return low in vocabulary.VERBS and (low.endswith(("ion", "al")) or low in ("request", "requesting"))


# Nouns that say what a message about a resource is ("account updates", "cluster issues")
_ABOUT_WORDS = frozenset(
    {"update", "updates", "requests", "changes", "issue", "issues", "problem", "problems", "details", "settings",
     "ticket", "form", "info"}
)  # fmt: skip


def _participle_word(low: str) -> bool:
    return len(low) > 5 and low.endswith(("ing", "ed"))


def _record_value(token: Token) -> bool:
    """Could this token, right after "record", be the record's value (not a preposition, a name of a
    DNS zone, or a vocabulary word)?"""
    low = token.low
    if token.phrase is not None:
        return True
    if low in vocabulary.STOPWORDS or low in vocabulary.VERBS or token.noun or _is_domain(low):
        return False
    return any(ch.isdigit() for ch in low) or "=" in low or "-" in low


def _number(word: str) -> int:
    return int(word) if word.isdigit() else entities.NUMBER_WORDS[word]


def states_replica_count(text: str) -> bool:
    """Does lower-cased ``text`` give a count of replicas ("6 instances", "replicas of api to 4")?"""
    return bool(_REPLICAS.search(text) or _REPLICAS_TO.search(text))


def _find_numbers(text: str, found: Found) -> None:
    match: re.Match[str] | None
    for phrase in _DURATION.finditer(text):
        # "over 3 nodes" is no duration: the first phrase with a time unit is
        if phrase.group(3):
            found.since = {"hour": "1h", "day": "1d", "week": "1w", "month": "30d"}[phrase.group(3)]
            break
        if entities.duration_unit(phrase.group(2)):
            found.since = entities.normalise_duration(f"{phrase.group(1)}{phrase.group(2)}")
            break
    for match in _QUANTITY.finditer(text):
        if entities.quantity_unit(match.group(2)) and match.group(2) not in ("g", "mi", "gi", "ti"):
            found.quota = entities.normalise_quantity(match.group(0))
            break
    if match := _NODES.search(text):
        found.node_count = _number(match.group(1))
    counts = list(_REPLICAS.finditer(text))
    # "deployed with two replicas now, scale it to 3 replicas": the count after "to" is the one asked for
    asked = [m for m in counts if text[max(0, m.start() - 3) : m.start()] == "to "]
    if match := next(iter(asked or counts), None):
        found.replicas = _number(match.group(1))
    for match in _TO_NUMBER.finditer(text):
        unit = match.group(2)
        if unit and (unit in _NOT_REPLICA_UNITS or entities.quantity_unit(unit) or entities.duration_unit(unit)):
            continue
        found.to_number = _number(match.group(1))
        break
    if _TLS_OFF.search(text):
        found.tls = False
    elif _TLS_ON.search(text):
        found.tls = True
    if match := _TTL.search(text):
        amount, unit = match.group(1, 2) if match.group(1) else match.group(3, 4)
        seconds = entities.duration_seconds(f"{amount}{unit}") if unit else int(amount)
        found.ttl = seconds
    if match := _GROUPS.search(text):
        for word in match.group(1).split():
            if word == "and":
                continue
            # "groups dev and qa": in a list of groups an environment word names a group
            listed = word in entities.ENVIRONMENT_WORDS and bool(found.groups or "and" in match.group(1).split())
            if word in vocabulary.STOPWORDS or (word in entities.ENVIRONMENT_WORDS and not listed):
                break
            if not _K8S_NAME.match(word):
                break
            found.groups.append(word)


def _add(found: Found, cue: Cue, name: str) -> None:
    names = found.cues.setdefault(cue, [])
    if name not in names:
        names.append(name)


def _handle(token: Token) -> str | None:
    """The account name a form's field gives, with the "@" of a mention dropped ("@JaredBurck")."""
    if is_name(token, username=True):
        return token.low
    bare = token.low[1:] if token.low.startswith("@") else ""
    return (
        bare
        if bare
        and not token.quoted
        and _USERNAME.match(bare)
        and is_name(dataclasses.replace(token, low=bare), username=True)
        else None
    )


def _namespace_field(low: str) -> bool:
    """A form's label of several words for the namespace ("projects/namespaces", "namespace(s)")."""
    parts = [p for p in re.split(r"[/()]", low) if p]
    return len(parts) > 1 and any(p in ("namespace", "namespaces") for p in parts)


def _find_cues(tokens: tuple[Token, ...], spans: tuple[Span, ...], found: Found) -> None:
    covered = {i for span in spans for i in range(span.start, span.end)}
    for i, token in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.quoted and is_name(token):
            _add(found, Cue.QUOTED, token.low)
        if token.possessive and i not in covered and is_name(token, username=True):
            _add(found, Cue.POSSESSIVE, token.low)
        if nxt is None:
            continue
        if (
            token.low in _HANDLE_WORDS
            and nxt.low == "="
            and i + 2 < len(tokens)
            and (handle := _handle(tokens[i + 2])) is not None
        ):
            _add(found, Cue.HANDLE, handle)  # "GitHub userID = MaggieBrazeau": a field written as a setting
            continue
        if token.colon and i + 1 < len(tokens) and _K8S_NAME.match(nxt.low) and _namespace_field(token.low):
            _add(found, Cue.NAMESPACE, nxt.low)  # "OpenShift Projects/Namespaces: esm-dev": a form's field
        if (
            token.low in _HANDLE_WORDS
            and token.colon
            and (handle := _handle(nxt)) is not None
            # "Cluster ID: kubecon" names the cluster; "GitHub ID:", "User ID:" a person
            and (i == 0 or not tokens[i - 1].noun or tokens[i - 1].low in ("user", "account"))
            # "mirror the account for username: BURBEYME": a field inside the prose refers to another
            and not (i and tokens[i - 1].low in _REFERRING_BEFORE)
        ):
            # a form's labelled field ("GitHub ID: advsol-darrel", "GitHub ID: @JaredBurck") says who,
            # before any name in the prose
            _add(found, Cue.HANDLE, handle)
        elif token.low in _NAME_WORDS and is_name(nxt, username=True, lenient=True):
            _add(found, Cue.NAMED, nxt.low)
            if token.low != "name":
                _add(found, Cue.CALLED, nxt.low)
        elif (
            token.low == "name"
            and not (i and tokens[i - 1].low in _OWNERS | _PERSON_NAME)
            and (named := _name_stated(tokens, i + 1))
        ):
            _add(found, Cue.NAMED, named)  # "the name should be payments-dev", "name is x", "name: x"
        elif token.low in _NAME_VERBS and nxt.low == "it" and i + 2 < len(tokens):
            if is_name(tokens[i + 2], username=True, lenient=True):
                _add(found, Cue.NAMED, tokens[i + 2].low)  # "create a namespace and call it payments"
                _add(found, Cue.CALLED, tokens[i + 2].low)
        elif token.colon and is_name(nxt, username=True) and not (i and tokens[i - 1].low in _PERSON_NAME):
            # "a namespace for the payments team: payments-v2"; not "dns: point …" (a verb is no name)
            _add(found, Cue.NAMED, nxt.low)
        elif i + 1 in covered:
            continue
        elif token.low in _FOR_WORDS and is_name(nxt, username=True) and not _modifies_noun(tokens, i + 1):
            _add(found, Cue.FOR, nxt.low)
        elif token.low in _FOR_WORDS and nxt.low == "the" and _bare_name_at(tokens, covered, i + 2):
            _add(found, Cue.FOR, tokens[i + 2].low)  # "the logs of the sports-api from …"
            if token.low == "on" and is_name(nxt):
                _add(found, Cue.WHERE, nxt.low)
        elif (token.low == "in" or token.low in entities.ROLE_WORDS) and is_name(nxt):
            _add(found, Cue.WHERE, nxt.low)  # "in payments"; "let sam view monitoring": the role's scope
            if token.low == "in":
                _add(found, Cue.IN, nxt.low)
        elif token.low == "to" and is_name(nxt, username=True):
            _add(found, Cue.TO, nxt.low)
        elif token.low == "-n" and _K8S_NAME.match(nxt.low):  # "-n production": a flag says what it is
            _add(found, Cue.NAMESPACE, nxt.low)
        elif token.low in vocabulary.PERSON_WORDS and is_name(nxt, username=True) and not _participle_word(nxt.low):
            _add(found, Cue.USER, nxt.low)  # "contractor ext.li"; not "member starting monday"
        elif token.low == "-" and nxt.end and is_name(nxt, username=True) and not any(t.end for t in tokens[:i]):
            _add(found, Cue.NAMED, nxt.low)  # "Account Deletion Request - sednan.": a title names its subject
        elif token.low in _HANDLE_WORDS and (handle := _handle(nxt)) is not None:
            # "GitHub ID tmorik", "handle @kim", "Lizbeth P. (username lizbethp)": the account name said as
            # one is who, before a person's name in the prose ("… for username: x" refers to another)
            if i and tokens[i - 1].low in _REFERRING_BEFORE:
                _add(found, Cue.USER, handle)
            else:
                _add(found, Cue.HANDLE, handle)
        if token.low in _PERSON_VERBS and is_name(nxt, username=True) and not nxt.noun and nxt.low not in _SOMEONE:
            _add(found, Cue.USER, nxt.low)  # "before we offboard amyknox, what access does she have?"
        if nxt.bracketed and not token.bracketed and token.raw[:1].isupper() and is_name(nxt, username=True):
            # "Onwubu (onwubu1)", "my colleague Dana (dlee)": a person's handle, before the name it follows
            users = found.cues.setdefault(Cue.USER, [])
            users[:] = [nxt.low, *(u for u in users if u not in (nxt.low, token.low))]
    for span in spans:
        for noun in span.nouns:
            cue = _NOUN_CUES.get(noun)
            if cue is None:
                continue
            username = cue is Cue.USER
            # "to cloud-platform-dev ns, name it …": a noun that ends its clause has its name before it
            after = tokens[span.end] if span.end < len(tokens) and not tokens[span.end - 1].stop else None
            before = tokens[span.start - 1] if span.start > 0 else None
            if after is not None and after.low in _NAME_WORDS:
                continue
            if after is not None and after.low in _PREDICATES and not after.quoted:
                after = None  # "the old cluster needs to be switched off": its verb follows, not a name
            if after is not None and is_participle(tokens, span.end):
                after = None  # "the namespace created yesterday": the word after describes the noun, it names none
            if after is not None and _names_the_action(after) and not after.quoted:
                after = None  # "account deletion request": the action named as a noun names nothing
            if after is not None and not after.quoted and _plural_phrase(tokens, span):
                after = None  # "so the pods pick it up": after "the pods" comes their verb, not a name
            if before is not None and _STATISTIC.match(before.low) and span.start >= 2:
                before = tokens[span.start - 2]  # "checkout p99 latency": latency of checkout
            determined = span.start >= 2 and tokens[span.start - 2].low in _DETERMINERS
            if span.start >= 2 and tokens[span.start - 2].low in _INTENSIFIERS:
                before = None  # "a quite useful service": the word before is an adjective
            strict_before = (
                before is not None
                and span.start - 1 not in covered
                # "the build namespace": a verb word the parser did not read as a verb is a name
                and (is_name(before, username=username) or (determined and before.low in vocabulary.VERBS))
                and not before.possessive
                # "delete my github account": the requester's own account elsewhere names no user of ours
                and not (username and span.start >= 2 and tokens[span.start - 2].low in ("my", "mine"))
            )
            if any(s.start == span.end and s.nouns & span.nouns for s in spans):
                continue  # "rollout restart deployment orders": the next noun has the name
            if cue is Cue.TELEMETRY:
                # only "the auth logs": what follows these nouns is rarely a name ("incidents happened"),
                # and "server logs", "access logs" name a kind of log, not whose
                if strict_before and before is not None and before.low not in _LOG_KINDS:
                    _add(found, cue, before.low)
                elif after is not None and after.low in ("that", "which") and span.end + 2 < len(tokens):
                    writer, verb = tokens[span.end + 1], tokens[span.end + 2]
                    if verb.low in _EMITTING and is_name(writer):
                        _add(found, cue, writer.low)  # "all logs that nginx wrote in the past hour"
                continue
            if after is not None and after.quoted and is_name(after, username=username):
                _add(found, cue, after.low)  # "the unused namespace `kondoodev`": the quoted name is the name
            elif after is not None and is_name(after, username=username) and not (strict_before and determined):
                _add(found, cue, after.low)
            elif before is not None and strict_before:
                _add(found, cue, before.low)
            elif after is not None and is_name(after, username=username, lenient=True):
                _add(found, cue, after.low)

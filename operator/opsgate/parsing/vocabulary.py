"""The language the rule parser knows apart from any catalog: verb words, stop words, fillers.

Kept as data, apart from the matching code, so adding a synonym is a one-line change that a
reviewer can read. A word may belong to several verb classes ("remove" deletes a mailbox but
revokes access); the resource noun it is paired with picks the catalog entry. Which verb classes
and which nouns name which entry, and the words of each noun, are the catalog's
(``policies/actions.yaml``: ``phrases`` and ``nouns``): nothing here names an action. Pure data.
"""

from __future__ import annotations

from opsgate.catalog import Verb

V = Verb

# Operations the catalog has no entry for (see ``Verb.UNSUPPORTED``).
_UNSUPPORTED = (
    "roll back", "rollback", "revert", "upgrade", "downgrade", "drain", "cordon", "uncordon",
    "backup", "back up", "restore", "migrate", "patch", "bring back", "rename",
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
        "initialize": {V.CREATE},
        "initialise": {V.CREATE},
        "build": {V.CREATE, V.GENERATE},
        "open": {V.CREATE},
        "register": {V.CREATE},
        "onboard": {V.CREATE},
        "deploy": {V.CREATE},
        "host": {V.CREATE},
        "live at": {V.CREATE},  # "we'd like it to live at protocol.mozilla.org": a home for a site
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
        "turn down": {V.DELETE},  # "turn down the utilicluster cluster": decommission
        "turndown": {V.DELETE},
        "taken down": {V.DELETE},  # "the site should be taken down"
        "taking down": {V.DELETE},
        "shut down": {V.DELETE},
        "get rid of": {V.DELETE},
        "decommission": {V.DELETE},
        "decom": {V.DELETE},  # ops shorthand: "Decom http://old.acme.org/"
        "deprovision": {V.DELETE},
        "offboard": {V.DELETE},
        "deactivate": {V.DELETE},
        "close": {V.DELETE},
        "purge": {V.DELETE},
        "scrub": {V.DELETE},  # "I still need my SiteNow website scrubbed"
        "wipe": {V.DELETE},
        "nuke": {V.DELETE},
        "terminate": {V.DELETE, V.REVOKE},  # "have his access terminated"
        "retire": {V.DELETE},
        # "disable access for bob"; never a delete: a disabled mailbox, site or account keeps its data,
        # and "switch off the namespace" is no request to destroy it
        "disable": {V.REVOKE},
        # the action named as a noun: "the key needs rotation", "the removal of namespace x"
        "creation": {V.CREATE},  # "we'd like to request the creation of a namespace named x"
        "removal": {V.DELETE, V.REVOKE},
        "deletion": {V.DELETE, V.REVOKE},
        "rotation": {V.ROTATE},
        "renewal": {V.ISSUE, V.ROTATE},
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
        "raise": {V.SCALE},  # "raise checkout to 6 replicas"
        "lower": {V.SCALE},
        "decrease": {V.SCALE},
        "reduce": {V.SCALE},
        "cut": {V.SCALE},  # "cut ledger-worker back to 1 replica"
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
        "reset": {V.ROTATE, V.RESTART},  # "reset the password" / "the bot is offline, reset it"
        "renew": {V.ISSUE, V.ROTATE},
        "issue": {V.ISSUE},
        "request": {V.ISSUE, V.CREATE},  # "request: dev namespace x for the y team"
        "requesting": {V.ISSUE, V.CREATE},
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
        "examine": {V.QUERY},
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
        "rescan": {V.SCAN},
        "re-scan": {V.SCAN},
        "produce": {V.GENERATE},
        "export": {V.GENERATE},
        "audit": {V.AUDIT},
        "review": {V.AUDIT},
        "need": {V.CREATE, V.ISSUE, V.QUERY, V.GRANT},
        "needs": {V.CREATE, V.ISSUE, V.QUERY, V.GRANT},  # exact, so no typo correction makes it "need" and keeps it
        "want": {V.CREATE, V.ISSUE, V.QUERY, V.GRANT},
        "wants": {V.CREATE, V.ISSUE, V.QUERY, V.GRANT},
        "like": {V.CREATE, V.ISSUE, V.QUERY, V.GRANT},
        **{phrase: {V.UNSUPPORTED} for phrase in _UNSUPPORTED},
    }.items()
}

# "I need a cluster", "we'd like the logs": a verb only when the text has no other verb.
DESIRE = frozenset({"need", "needs", "want", "wants", "like"})

# Words after which a verb's -ing or -ed form asks for the action: "the token needs rotating",
# "the cert needs to be renewed", "checkout should be restarted". Elsewhere such a form describes
# ("the namespace created yesterday") and is not read as a verb.
NEED_FORMS = frozenset({"needs", "need", "needed", "be", "been"})


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
        "budget", "document", "doc", "spreadsheet", "invoice", "printer", "wiki", "dashboard",
        "dashboards", "channel", "cache", "banner", "report", "button", "feature",
    }
)  # fmt: skip

# Settings of a resource: "increase the memory limit of api", "set maxReplicas on the autoscaler". The
# catalog changes resources (a deployment's replica count, a mailbox's quota), never their other settings.
SETTINGS = frozenset(
    {
        "limit", "limits", "timeout", "timeouts", "threshold", "thresholds", "maxreplicas",
        "minreplicas", "autoscaler", "autoscalers", "hpa", "probe", "probes", "env", "variable", "variables",
        "setting", "settings", "config", "configuration", "configmap", "annotation", "annotations", "label", "labels",
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
    is are be do does did need want like id i'd some more less than via using use
    because unless although though whereas if whenever"""
STOPWORDS = frozenset(_STOPWORDS_WORDS.split())

_POLITENESS_WORDS = """please kindly could would can will you pls plz hey hi hello i i'd id we need want
    like to just quickly urgent urgently now asap ok okay so let's lets go ahead and"""
POLITENESS = frozenset(_POLITENESS_WORDS.split())

"""Is this replica the one that acts? kopf's peering rule, for what kopf does not pause itself.

kopf pauses its handlers on a replica while a live peer of higher priority is in the peering
object's status (``{identity: {priority, lastseen, lifetime}}``). The operator's own Job watch
and Approval expiry timers run beside kopf's handlers, so they ask the same question before
they act: a standby replica must not finish requests the active one is following.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from opsgate.controller.approvals import parse_time


def outranked(status: Mapping[str, Any] | None, priority: int, *, now: datetime.datetime) -> bool:
    """True if a live peer in ``status`` has a higher priority than ``priority``.

    (kopf also pauses every replica of the same priority while more than one is alive; those
    are a misconfiguration it warns about, and both would act here as they do after kopf's pause.)
    """
    for info in (status or {}).values():
        if not isinstance(info, Mapping):
            continue
        try:
            seen = parse_time(str(info["lastseen"]))
            alive = seen + datetime.timedelta(seconds=float(info.get("lifetime", 60))) > now
            higher = int(info.get("priority", 0)) > priority
        except (KeyError, TypeError, ValueError):
            continue
        if alive and higher:
            return True
    return False

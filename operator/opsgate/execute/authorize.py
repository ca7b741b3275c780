"""The authorization asked right before acting, as a protocol.

Who may run which action is Kubernetes RBAC: a SubjectAccessReview for the requester, verb
``execute`` on ``actions.opsgate.dev`` named by the catalog key, in the target namespace. It is
asked at plan time by the controller and again here, inside the Job, right before anything runs
(an approval may outlive the requester's rights). The executor only knows this protocol; the
CLI wires the SubjectAccessReview implementation.
"""

from __future__ import annotations

from typing import Protocol


class Authorizer(Protocol):
    def check(self, requester: str, action_key: str, namespace: str) -> tuple[bool, str]:
        """(allowed, reason): whether ``requester`` may execute ``action_key`` in ``namespace``."""
        ...

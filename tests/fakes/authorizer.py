"""A stand-in for the SubjectAccessReview authorizer ``opsgate execute`` asks right before acting.

Implements :class:`opsgate.execute.authorize.Authorizer`: answers from a fixed decision, as the
API server would for one RBAC state, and records every question (requester, action, namespace).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeAuthorizer:
    allowed: bool
    reason: str = ""
    asked: list[tuple[str, str, str]] = field(default_factory=list)

    def check(self, requester: str, action_key: str, namespace: str) -> tuple[bool, str]:
        self.asked.append((requester, action_key, namespace))
        return self.allowed, self.reason

"""The executor's last check before acting: may the requester still execute this action here?

`opsgate execute` asks it inside the Job, with the Job's own service-account token, right before
anything runs: an approval can outlive the requester's rights (a RoleBinding removed while the
request waited). It is the same SubjectAccessReview the controller asked at plan time - verb
``execute`` on ``actions.opsgate.dev/<catalog key>`` in the target namespace - for the requester
and the groups the request stated (``OPSGATE_REQUESTER_GROUPS``, set on the Job by the controller).
"""

from __future__ import annotations

import os

from opsgate import kube, resources

ENV_GROUPS = "OPSGATE_REQUESTER_GROUPS"


class SubjectAccessReviewAuthorizer:
    """:class:`opsgate.execute.authorize.Authorizer` over the API server's SubjectAccessReview."""

    def __init__(self, *, groups: tuple[str, ...] | None = None) -> None:
        self._groups = (
            groups if groups is not None else tuple(g for g in os.environ.get(ENV_GROUPS, "").split(",") if g)
        )
        kube.configure()  # in a pod: its service account; elsewhere: $KUBECONFIG

    def check(self, requester: str, action_key: str, namespace: str) -> tuple[bool, str]:
        return kube.access_review(
            user=requester,
            groups=self._groups,
            extra={},
            namespace=namespace,
            verb="execute",
            group=resources.GROUP,
            resource="actions",
            name=action_key,
        )

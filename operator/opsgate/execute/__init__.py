"""``opsgate execute``: run one approved plan inside its Job, and report what happened.

The executor trusts nothing it is handed: it recomputes the plan's digest from the image's own
catalog and files (:mod:`.verify`), asks the authorizer right before acting (:mod:`.authorize`),
fetches the entry's declared secrets (:mod:`.secrets`), runs the playbook through ansible-runner
(:mod:`.playbook`) or the module through OpenTofu (:mod:`.tofu`), and writes one small JSON result
(:mod:`.result`) that the controller reads from the termination message. :func:`.run.execute`
ties these together.
"""

"""Alert-driven requests: Alertmanager webhooks turned into OpsRequests through declarative routes.

:mod:`.routes` loads ``policies/alert-routes.yaml`` and maps an alert to a catalog action (labels
only, never free text); :mod:`.webhook` reads Alertmanager's webhook payload (version 4);
:mod:`.requests` builds the OpsRequest a firing alert becomes (a deterministic name from its
fingerprint, so a re-sent alert is the same request); :mod:`.ratelimit` bounds how many requests
a route makes (counted from its requests on the API server, so a restart keeps the count);
:mod:`.autonomy` decides from recorded outcomes whether a route has earned running without
approval. All pure; the receiver (``opsgate alerts``) and the operator do the I/O.
"""

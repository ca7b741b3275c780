"""The chat front-end (``opsgate ui``): one page and an HTTP API that act as the signed-in user.

* :mod:`.identity` - who is asking, from the trusted auth proxy's headers; CSRF tokens. Pure.
* :mod:`.views` - what the page shows of an OpsRequest or an Approval, and which approvals wait
  for whom. Pure.
* :mod:`.openapi` - the OpenAPI description of the HTTP API. Pure.
* :mod:`.server` - the aiohttp application: every Kubernetes call made as the user
  (impersonation).
* :mod:`.stream` - a request's progress, from a watch made as the user to Server-Sent Events.
"""

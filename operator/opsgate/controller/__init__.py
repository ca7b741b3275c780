"""The controller's pure core: conditions, the phase order, approvals and Jobs as data.

Nothing here talks to the API server or imports kopf: functions take the objects (as plain
dicts) and ``now`` and return what should be written. ``opsgate.kube`` does the I/O and
``opsgate.handlers`` wires both to kopf.
"""

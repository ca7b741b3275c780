"""Faithful stand-ins for servers OpsGate talks to, for tests (no network beyond loopback)."""

"""The per-session, credential-injecting API proxy (docs/threat-model.md, T2).

One proxy runs beside each per-session sandbox. The sandbox's `ant` talks to it on loopback
with a placeholder key; the proxy forwards only the requests that belong to its own
environment, work item and session (`routes.py`), with the real environment key, over
certificate-checked TLS. Everything else gets 403, a log line and a metric count.

Stdlib only: it runs in the session image, next to the dispatcher packages.
"""

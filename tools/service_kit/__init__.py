"""What every tool service is built from besides its own routes.

``settings`` (the settings every service has), ``errors`` (the base of a service's errors),
``database`` (SQLite with group commit), ``idempotency`` (Idempotency-Key replay),
``middleware`` (body size limit, access log), ``logs`` (JSON lines), ``dependencies``
(API key, Idempotency-Key header), ``health`` (``GET /healthz``), ``telemetry`` (server spans;
its tracer provider comes from ``exporters``, a copy of the orchestrator's) and ``app``
(``install``: wires all of it into a FastAPI app).

A service's image copies this package beside its own folder; a service imports it, never
another service.
"""

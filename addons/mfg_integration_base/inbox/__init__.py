"""The inbox: engine code of the inbound path, plain modules taking ``env``.

ingest (API batch -> rows, set-based) -> jobs (one queue_job per chunk) -> processing
(handlers in subject order, failure paths); shadow_run, recovery (crons), retention.
See docs/architecture.md.
"""

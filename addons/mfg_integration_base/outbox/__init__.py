"""The outbox: engine code of the outbound path, plain modules taking ``env``.

emit (rows written in the business transaction) -> dispatcher (one job per system: claim,
deliver through the system's adapter) -> outcomes (done, retry, its own failure path) ;
replay. See docs/architecture.md.
"""

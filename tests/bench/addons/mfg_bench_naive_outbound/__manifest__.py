{
    "name": "Benchmark baseline: one queue_job per outbound event",
    "summary": "Only for tests/bench/bench_outbound.py: the naive way to deliver events "
    "(one job per event, one fresh HTTP POST each), measured beside the outbox",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "author": "Manufacturing Integration Team",
    "license": "LGPL-3",
    "depends": ["mfg_integration_base"],
    "installable": True,
}

"""The worker: the one composition root (:mod:`streams.worker.app`) and the pipeline stages it
wires (ingest, aggregation, routing, delivery, escalation), each registering its agents, timers
and views on the app it is given. Only the CLI and ``streams.dev`` import this package."""

"""Benchmarks for the opvangwacht worker (run with ``python -m bench.run``)."""

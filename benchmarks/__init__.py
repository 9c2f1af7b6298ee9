"""Benchmarks of the provider's DAG-parse cost, send throughput and round trips (``scripts/bench.sh``).

Not part of the test suite: numbers here depend on the machine; the tests assert counts only.
"""

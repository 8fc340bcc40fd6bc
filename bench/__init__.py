"""Benchmarks of the pipeline (`make bench`): throughput, freshness, web API, memory, baselines."""

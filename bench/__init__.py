"""Benchmarks and the load and fault suite, run as scripts (`.venv/bin/python bench/run.py`).

A package so that the scripts share `bench.common` and `bench.loadgen` by plain imports: the
project's editable install (`uv sync`) puts the repository root on `sys.path`, as it does for
`app`.
"""

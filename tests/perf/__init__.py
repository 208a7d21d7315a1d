"""Benchmarks (issue 9): run one at a time with `uv run python -m tests.perf.<name>`; not part of the test run."""

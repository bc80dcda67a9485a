"""Benchmarks and evaluation of the search index (run as scripts: python -m bench.<name>)."""

"""Benchmarks (``make bench`` runs ``python -m bench``); not part of the test suite."""

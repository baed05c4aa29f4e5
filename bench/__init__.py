"""Benchmarks (DESIGN.md section 8): AWS usage and dollars per unit of work, and Python timings.

`python -m bench` runs them; see bench/__main__.py.
"""

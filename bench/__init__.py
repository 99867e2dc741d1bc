"""Benchmarks: ``python -m bench <name>``; they print figures and never run in the test suite."""

from __future__ import annotations

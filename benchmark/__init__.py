"""Benchmark and evaluation harness for full-band (44.1 kHz) speech restoration.

Core plumbing lives here: CLI, registries, audio I/O, asset registry, runner, store, reports.
"""

__version__ = "0.1.0"

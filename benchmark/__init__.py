"""Benchmark and evaluation harness for full-band (44.1 kHz) speech restoration.

Layers, bottom to top (checked by import-linter contracts in pyproject.toml):
`core` and `assets` (what plugins import) -> `run` (runner, store, executors) -> `report`
(Markdown, plots, listening page) -> `cli`, `demo`, `commands`.
"""

__version__ = "0.1.0"

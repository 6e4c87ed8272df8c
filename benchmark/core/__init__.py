"""The kernel every plugin may import: user-facing errors, registries, audio I/O and the one
resampler, optional dependencies, locations and progress bars. Imports nothing else from
`benchmark` (checked by import-linter)."""

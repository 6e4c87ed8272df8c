"""Running systems and metrics over test sets: the runner, jobs, local and Ray executors, shards,
the SQLite results store and provenance. Never imports `benchmark.report` (import-linter)."""

"""CLI subcommands, one module each (see benchmark.cli)."""

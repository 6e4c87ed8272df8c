"""Everything read from a run's store: the Markdown report (`writer`), results and statistics,
breakdowns, plots, the listening page and its media, table layouts and published numbers."""

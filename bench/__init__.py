"""Speed and memory benchmarks (`make bench`); results are written to bench/results/."""

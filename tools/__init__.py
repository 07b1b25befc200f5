"""Developer tools: test fixtures, synthetic models and benchmarks (not installed with the package)."""

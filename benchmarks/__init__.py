"""Benchmark protocols and runners; committed results live in ``benchmarks/results/``."""

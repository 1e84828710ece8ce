"""Tests of the benchmark metrics and the bundled sample data."""

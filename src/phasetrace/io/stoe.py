"""Readers: stoe (being written)."""

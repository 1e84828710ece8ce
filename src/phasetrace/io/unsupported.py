"""Readers: unsupported (being written)."""

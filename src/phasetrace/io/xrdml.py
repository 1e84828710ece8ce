"""Readers: xrdml (being written)."""

"""Readers: archive (being written)."""

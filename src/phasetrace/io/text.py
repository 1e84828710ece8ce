"""Readers: text (being written)."""

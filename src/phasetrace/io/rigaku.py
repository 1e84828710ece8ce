"""Readers: rigaku (being written)."""

"""Readers: pdcif (being written)."""

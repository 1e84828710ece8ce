"""Readers: gsas (being written)."""

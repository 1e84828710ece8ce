"""Readers: bruker (being written)."""

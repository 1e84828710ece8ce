"""Readers: spc (being written)."""

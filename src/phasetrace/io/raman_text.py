"""Readers: raman_text (being written)."""

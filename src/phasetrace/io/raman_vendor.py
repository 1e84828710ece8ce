"""Readers: raman_vendor (being written)."""

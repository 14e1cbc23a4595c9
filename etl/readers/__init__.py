"""Readers at the I/O edge: files in, validated arrays and dataclasses out."""

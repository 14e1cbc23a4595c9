"""Recomputed features: pure functions over arrays, registered by their published Allen names."""

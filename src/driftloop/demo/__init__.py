"""Bundled demonstrations on real data."""

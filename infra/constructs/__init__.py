"""Reusable constructs: one factory per kind of thing, driven by the catalogue."""

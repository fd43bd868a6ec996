"""Bundled inputs and historical targets, with provenance (see PROVENANCE.md)."""

"""Renderers: every output format is a view of the same ``Report``; none of them fetches."""

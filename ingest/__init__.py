"""Ingest library: load files, normalise, chunk with offsets, embed, and sync into Chroma.

It never imports ``assistant``: callers pass plain arguments.
"""

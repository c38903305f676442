"""Diagnostics, the layer every other one stands on.

``errors``: spans and the source text each points into, diagnostics, the ``ClrdslError``
hierarchy and its rendering (text with carets, JSON); ``codes``: the one catalogue of
error and lint codes (the docs' tables are generated from it).
"""

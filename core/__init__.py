"""Shared infrastructure with no domain (DESIGN.md: the lowest floor): time helpers.

A plain package, not a Django app — no models, no templates — and it imports none of our apps, so every app may
import it (tests/config/test_layers.py checks both).
"""

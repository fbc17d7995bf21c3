"""Shared infrastructure with no domain (DESIGN.md: the lowest floor): field encryption, the page caches
(public_cache, member_cache, page_params), the rate limiter, the client address (net), parsing ids from requests
(params), time helpers.

A plain package, not a Django app — no models, no templates — and it imports none of our apps, so every app may
import it (tests/config/test_layers.py checks both).
"""

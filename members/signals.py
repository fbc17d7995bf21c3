"""Signals of the members app, for the apps above it, which members must not import (DESIGN.md: layers)."""

from django.dispatch import Signal

# Sent by services.service_record_verify inside the transaction that confirmed a pending record's hours, with
# `record` (the ServiceRecord) and `verifier` (the user). An app that owes something for that service — the
# projects app, points for an activity attended — gives it in the same transaction, so both happen or neither.
service_record_verified = Signal()

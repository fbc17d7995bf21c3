"""Audit trail and sign-in sessions: the lowest layer of the platform, below notifications.

Why an app of its own, at the bottom: the trail records what happens in every other app — sign-ins (the site),
full-value views of members' phones and ID numbers (members), residents' contacts (demands), exports (members,
training, the dashboard) and admin changes (all of them). Since an app may only import the apps below it
(DESIGN.md), the one module they all call must sit below all of them; it imports no project app.

- `AuditEvent` rows (who, from which IP, when, what, on which object) are written by `services.audit_record`, which
  also emits the same event to the structured logger "audit" with control characters escaped (no log injection).
- `UserSession` remembers which session keys a user signed in with, so `services.user_sessions_end` can end them
  when the member is deactivated.
- `net.client_ip` is the one answer to "which address is this request from", shared with django-axes.
"""

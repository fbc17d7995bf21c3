"""Scale data of the incentives app: the points ledger of a district, in bulk.

Called by `volunteer_platform.scale` after the records exist, in the same transaction (nothing here commits).
Exactly what the services would have written (`services.points_source_sync`, the rule table in selectors): one
award of the `service_hour` rule per counted (verified or corrected) service record of the given organizations —
min(round_half_up(hours × the rule's points × the leader multiplier for 现场负责人), the rule's cap) — dated when
the record was verified, source_ref "record:<id>", idempotency key "record:<id>:hours", the rule's numbers kept on
the entry. `balance_after` is the running sum of the member's entries in (created_at, id) order, and each member's
PointsBalance holds the sum (balance = earned total, nothing spent or owed), so `manage.py reconcile` finds the
district in agreement and the ledger's invariants hold as `_append` keeps them.
"""

from typing import Any

from django.db import connection

from .models import Rule


def seed(*, branch_ids: list[int]) -> int:
    rule = Rule.objects.get(code=Rule.Code.SERVICE_HOUR)
    params: dict[str, Any] = {
        "branches": branch_ids,
        "rule": rule.pk,
        "points": rule.points,
        "cap": rule.cap_per_source,
        "nocap": 2**31 - 1,
        "leader": rule.leader_multiplier,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH r AS MATERIALIZED (
                SELECT r.id, r.member_id, r.hours, r.verified_by_id, r.verified_at, r.content,
                       CASE WHEN r.role = 'leader' THEN %(leader)s ELSE 1 END AS multiplier
                FROM members_servicerecord r JOIN members_member m ON m.id = r.member_id
                WHERE m.organization_id = ANY(%(branches)s) AND r.status IN ('verified', 'corrected')
            ), e AS MATERIALIZED (
                SELECT r.*,
                       least(round(r.hours * %(points)s * r.multiplier)::int, coalesce(%(cap)s, %(nocap)s)) AS pts
                FROM r
            )
            INSERT INTO incentives_ledgerentry
                (kind, points, earned_points, balance_after, quantity, multiplier, rule_points, rule_cap, source_ref,
                 note, idempotency_key, created_at, actor_id, member_id, rule_id)
            SELECT 'award', e.pts, e.pts,
                   sum(e.pts) OVER (PARTITION BY e.member_id ORDER BY e.verified_at, e.id),
                   e.hours, e.multiplier, %(points)s, %(cap)s, 'record:' || e.id, left(e.content, 200),
                   'record:' || e.id || ':hours', e.verified_at, e.verified_by_id, e.member_id, %(rule)s
            FROM e WHERE e.pts > 0 ORDER BY e.verified_at, e.id
            """,
            params,
        )
        added = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO incentives_pointsbalance (member_id, balance, earned_total, debt, updated_at)
            SELECT l.member_id, sum(l.points), sum(l.earned_points), 0, now()
            FROM incentives_ledgerentry l JOIN members_member m ON m.id = l.member_id
            WHERE m.organization_id = ANY(%(branches)s)
            GROUP BY l.member_id
            """,
            params,
        )
    return added

"""Scale data of the incentives app: the points ledger of a district, in bulk.

Called by `volunteer_platform.scale` after the records exist, in the same transaction (nothing here commits).
One award per verified service record of the given organizations (activity records first, then the rest, oldest
first), at most `entries`: rule 服务时长 (service_hour) — points = hours × the rule's points, capped per source as
`award` caps them — dated when the record was verified, idempotency key "scale:record:<id>" (a namespace no
service uses). `balance_after` is the running sum of the member's entries in (created_at, id) order, and each
member's PointsBalance holds the sum (balance = earned total: nothing is spent), so the ledger's invariants —
balance never negative, balance ≤ earned, the cached balance equals the entries — hold as `_append` keeps them.
"""

from django.db import connection

from .models import Rule


def seed(*, branch_ids: list[int], entries: int) -> int:
    rule = Rule.objects.get(code=Rule.Code.SERVICE_HOUR)
    params = {
        "branches": branch_ids,
        "entries": entries,
        "rule": rule.pk,
        "points": rule.points,
        "cap": rule.cap_per_source or 2**31 - 1,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH r AS MATERIALIZED (
                SELECT r.id, r.member_id, r.hours, r.source_ref, r.verified_by_id, r.verified_at, r.content
                FROM members_servicerecord r JOIN members_member m ON m.id = r.member_id
                WHERE m.organization_id = ANY(%(branches)s) AND r.status = 'verified'
                ORDER BY (r.source = 'activity') DESC, r.verified_at, r.id
                LIMIT %(entries)s
            ), e AS MATERIALIZED (
                SELECT r.*, least(round(r.hours * %(points)s)::int, %(cap)s) AS pts FROM r
            )
            INSERT INTO incentives_ledgerentry
                (kind, points, earned_points, balance_after, quantity, multiplier, source_ref, note, idempotency_key,
                 created_at, actor_id, member_id, rule_id)
            SELECT 'award', e.pts, e.pts,
                   sum(e.pts) OVER (PARTITION BY e.member_id ORDER BY e.verified_at, e.id),
                   e.hours, 1, e.source_ref, left(e.content, 200), 'scale:record:' || e.id, e.verified_at,
                   e.verified_by_id, e.member_id, %(rule)s
            FROM e ORDER BY e.verified_at, e.id
            """,
            params,
        )
        added = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO incentives_pointsbalance (member_id, balance, earned_total, updated_at)
            SELECT l.member_id, sum(l.points), sum(l.earned_points), now()
            FROM incentives_ledgerentry l JOIN members_member m ON m.id = l.member_id
            WHERE m.organization_id = ANY(%(branches)s)
            GROUP BY l.member_id
            """,
            params,
        )
    return added

"""Scale data of the demands app: residents' micro-wishes of a district in every state, in bulk.

Called by `volunteer_platform.scale` after the members' part, in the same transaction (nothing here commits).
Set-based SQL with every constraint in place. Each wish's columns are those its state's transitions leave behind
(see the constraints of `MicroWish` and the services that move it):

- submitted (1 %) → verified (1 %) → published (1 %, on the wall, claim deadline ahead) → claimed (2 %) →
  fulfilled (2 %, inside the 14-day feedback window) → confirmed (2 %, rated) → closed (76 %; four in five rated,
  the rest closed unconfirmed after the window); side exits rejected (5 %, with a reason), withdrawn (5 %) and
  expired (5 %, deadline passed). Open states are recent, final ones spread over the last two years;
- every timestamp follows from the one before (verified a day after submission, published two hours later,
  claimed a day later, fulfilled two days later, confirmed the next day, closed the day after or 14 days after
  fulfilment); verifications by the committee's secretary; claims by members of the community's branches
  (at most a handful of open claims per member);
- residents' contacts encrypted and hashed as the form stores them (a pool of 1,000 generated residents: Fernet
  and HMAC are computed in Python once per pool entry), purged (`contact_purged_at`) from final wishes past the
  retention period, as `wishes_purge_contacts` does;
- a WishEvent for every transition, at its time, with the actor kind the service records.
"""

import random

from django.conf import settings
from django.db import connection

from core.crypto import blind_index, encrypt
from members.demo import GIVEN, PREFIXES, SURNAMES

from .models import CONSENT_VERSION, WishCategory

POOL = 1000
# per mille, in the order the CASE below assigns them
STATES = [
    ("submitted", 10),
    ("verified", 10),
    ("published", 10),
    ("claimed", 20),
    ("fulfilled", 20),
    ("confirmed", 20),
    ("closed", 760),
    ("rejected", 50),
    ("withdrawn", 50),
    ("expired", 50),
]
# category -> (title, description)
TEXTS = {
    "助老": ("想请人帮忙读报纸聊聊天", "眼睛不好，想每周有人来读读报纸、聊聊天。"),
    "助残": ("轮椅需要修理", "轮椅刹车坏了，想请人帮忙修一下。"),
    "关爱儿童": ("孩子作业需要辅导", "孩子上四年级，父母在外打工，作业没人辅导。"),
    "就业帮扶": ("想找一份附近的工作", "下岗后想找一份家附近的保洁或保安工作。"),
    "医疗健康": ("陪同去医院复查", "腿脚不便，需要去区医院复查，想有人陪同。"),
    "法律援助": ("咨询赡养纠纷", "子女不履行赡养义务，想咨询怎么办。"),
    "环境卫生": ("楼道杂物清理", "楼道堆了很多杂物，想请人帮忙清理。"),
    "文化教育": ("教我用智能手机", "想学会用手机在医院公众号上挂号。"),
    "生活服务": ("家里灯泡坏了够不着", "客厅吊灯的灯泡坏了，太高换不了。"),
    "其他": ("帮忙搬一下旧家具", "家里有一个旧柜子要搬到楼下。"),
}
TARGET_GROUPS = ["general", "general", "empty_nest", "low_income", "disabled", "unemployed", "left_behind_children"]


def _h(salt: str, expr: str = "i") -> str:
    return f"(hashtext('{salt}' || {expr})::bigint & 2147483647)"


def _contact_pool() -> list[tuple[int, str, str, str]]:
    """(n, encrypted name, encrypted phone, phone hash) of POOL generated residents."""
    rng = random.Random(20240701)
    rows = []
    for n in range(POOL):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN[(rng.choice(("male", "female")), "older")])
        phone = PREFIXES[n % len(PREFIXES)] + f"{(n * 7_919 + 31_337_000) % 10**8:08d}"
        rows.append((n, encrypt(name), encrypt(phone), blind_index(phone)))
    return rows


def seed(*, community_ids: list[int], wishes: int) -> dict[str, int]:
    categories = list(WishCategory.objects.filter(active=True).order_by("pk"))
    titles = [TEXTS.get(c.name, TEXTS["其他"]) for c in categories]
    bounds, total = [], 0
    for state, share in STATES:
        total += share
        bounds.append((state, total))
    whens = " ".join(f"WHEN roll < {b} THEN '{s}'" for s, b in bounds[:-1])
    state_case = f"CASE {whens} ELSE '{bounds[-1][0]}' END"
    params = {
        "communities": community_ids,
        "wishes": wishes,
        "categories": [c.pk for c in categories],
        "titles": [t[0] for t in titles],
        "descriptions": [t[1] for t in titles],
        "groups": TARGET_GROUPS,
        "consent_version": CONSENT_VERSION,
        "claim_days": settings.WISH_CLAIM_DAYS,
        "feedback_days": settings.WISH_FEEDBACK_DAYS,
        "retention_days": settings.WISH_CONTACT_RETENTION_DAYS,
        "pool": POOL,
        "states": [state for state, _share in STATES],
        "nstates": len(STATES),
        "salt": random.SystemRandom().getrandbits(63),
    }
    counts = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE scale_contact (n int PRIMARY KEY, name text, phone text, phone_hash text) ON COMMIT DROP"
        )
        cursor.executemany("INSERT INTO scale_contact VALUES (%s, %s, %s, %s)", _contact_pool())
        # Communities numbered, with their secretary, grids, and the members of their committee's branches numbered
        # (the claimers; a table, not an array per community, which would be detoasted for every wish).
        cursor.execute(
            """
            CREATE TEMP TABLE scale_community ON COMMIT DROP AS
            SELECT c.ord - 1 AS n, c.id, cm.organization_id, s.user_id AS secretary_user_id,
                   (SELECT array_agg(g.id ORDER BY g.id) FROM members_grid g WHERE g.community_id = c.id) AS grids,
                   (SELECT count(*) FROM members_member m JOIN members_organization b ON b.id = m.organization_id
                    WHERE b.parent_id = cm.organization_id AND m.status = 'active') AS claimers
            FROM unnest(%(communities)s::bigint[]) WITH ORDINALITY AS c(id, ord)
            JOIN members_community cm ON cm.id = c.id
            JOIN members_organization o ON o.id = cm.organization_id
            LEFT JOIN members_member s ON s.id = o.secretary_id
            """,
            params,
        )
        cursor.execute(
            """
            CREATE TEMP TABLE scale_claimer ON COMMIT DROP AS
            SELECT c.n AS community_n, row_number() OVER (PARTITION BY c.n ORDER BY m.id) - 1 AS k, m.id
            FROM scale_community c
            JOIN members_organization b ON b.parent_id = c.organization_id
            JOIN members_member m ON m.organization_id = b.id AND m.status = 'active'
            """
        )
        cursor.execute("ALTER TABLE scale_claimer ADD PRIMARY KEY (community_n, k)")
        # Temporary tables are never auto-analysed: without statistics the planner loops over them per wish.
        cursor.execute("ANALYZE scale_contact; ANALYZE scale_community; ANALYZE scale_claimer")
        cursor.execute("SELECT count(*) FROM scale_community")
        params["ncommunities"] = cursor.fetchone()[0]
        cursor.execute(
            f"""
            WITH g AS MATERIALIZED (
                SELECT i, {_h("wr")} %% 1000 AS roll, {_h("wa")} AS r, {_h("wc")} %% %(ncommunities)s AS community_n,
                       {_h("wk")} %% cardinality(%(categories)s::bigint[]) + 1 AS cat
                FROM generate_series(1, %(wishes)s) AS i
            ), s AS MATERIALIZED (
                -- The first wishes take one state each, so even a tiny seed has every state.
                SELECT g.*, CASE WHEN g.i <= %(nstates)s THEN (%(states)s::text[])[g.i] ELSE {state_case} END AS state
                FROM g
            ), t AS MATERIALIZED (
                -- When the wish was submitted: open states recently, final ones over the last two years.
                SELECT s.*, now() - CASE s.state
                    WHEN 'submitted' THEN make_interval(hours => (s.r %% 47)::int)
                    WHEN 'verified' THEN make_interval(days => 2 + (s.r %% 2)::int)
                    WHEN 'published' THEN make_interval(days => 2 + (s.r %% 10)::int)
                    WHEN 'claimed' THEN make_interval(days => 4 + (s.r %% 15)::int)
                    WHEN 'fulfilled' THEN make_interval(days => 5 + (s.r %% 8)::int)
                    WHEN 'confirmed' THEN make_interval(days => 8 + (s.r %% 20)::int)
                    ELSE make_interval(days => 30 + (s.r %% 700)::int) END
                    - make_interval(mins => (s.r %% 600)::int) AS created,
                    s.state IN ('claimed', 'fulfilled', 'confirmed', 'closed') AS held,
                    s.state IN ('fulfilled', 'confirmed', 'closed') AS done,
                    s.state = 'confirmed' OR (s.state = 'closed' AND s.r %% 5 > 0) AS rated
                FROM s
            ), ts AS MATERIALIZED (
                SELECT t.*,
                    CASE WHEN t.state NOT IN ('submitted', 'rejected', 'withdrawn')
                         THEN t.created + interval '1 day' END AS verified_at,
                    CASE WHEN t.state NOT IN ('submitted', 'verified', 'rejected', 'withdrawn')
                         THEN t.created + interval '1 day 2 hours' END AS published_at,
                    CASE WHEN t.held THEN t.created + interval '2 days 2 hours' END AS claimed_at,
                    CASE WHEN t.done THEN t.created + interval '4 days 2 hours' END AS fulfilled_at,
                    CASE WHEN t.rated THEN t.created + interval '5 days 2 hours' END AS confirmed_at
                FROM t
            ), f AS MATERIALIZED (
                SELECT ts.*,
                    CASE WHEN ts.state = 'closed'
                         THEN coalesce(ts.confirmed_at + interval '1 day',
                                       ts.fulfilled_at + make_interval(days => %(feedback_days)s)) END AS closed_at,
                    CASE ts.state
                        WHEN 'closed' THEN coalesce(ts.confirmed_at + interval '1 day',
                                                    ts.fulfilled_at + make_interval(days => %(feedback_days)s))
                        WHEN 'rejected' THEN ts.created + interval '1 day'
                        WHEN 'withdrawn' THEN ts.created + interval '3 hours'
                        WHEN 'expired' THEN ts.published_at + make_interval(days => %(claim_days)s + 1)
                        ELSE coalesce(ts.confirmed_at, ts.fulfilled_at, ts.claimed_at, ts.published_at, ts.verified_at,
                                      ts.created) END AS last_at
                FROM ts
            ), p AS MATERIALIZED (
                -- Materialised with the claimer's number inside the community: the joins below are then plain
                -- equalities the planner hashes, never a loop over the claimers per wish.
                SELECT f.*, f.state IN ('closed', 'rejected', 'withdrawn')
                            AND f.last_at < now() - make_interval(days => %(retention_days)s) AS purged,
                       CASE WHEN f.held THEN {_h("wm", "f.i")} %% c.claimers END AS claimer_k
                FROM f JOIN scale_community c ON c.n = f.community_n
            )
            INSERT INTO demands_microwish
                (tracking_code, state, title, description, public_title, public_description, target_group,
                 preferred_time, contact_name, contact_phone, phone_hash, consent_processing_at, consent_version,
                 consent_display, consent_display_at, contact_purged_at, offer_pending, verified_at, verification_note,
                 published_at, claim_deadline, reject_reason, claimed_at, fulfilled_at, fulfilment_note,
                 service_started_at, service_ended_at, service_hours, feedback_token_hash, rating, rating_comment,
                 confirmed_at, closed_at, created_at, updated_at, claimed_by_id, community_id, grid_id,
                 verified_by_id, category_id)
            SELECT
                translate(upper(substr(md5(%(salt)s::text || ':' || p.i), 1, 13)), '0123456789ABCDEF',
                          '23456789ABCDEFGH'),
                p.state, (%(titles)s::text[])[p.cat], (%(descriptions)s::text[])[p.cat],
                (%(titles)s::text[])[p.cat], (%(descriptions)s::text[])[p.cat],
                (%(groups)s::text[])[1 + p.r %% cardinality(%(groups)s::text[])],
                (ARRAY['工作日上午', '工作日晚上', '周末上午', '周末下午', ''])[1 + p.r %% 5],
                CASE WHEN p.purged THEN '' ELSE sc.name END, CASE WHEN p.purged THEN '' ELSE sc.phone END,
                CASE WHEN p.purged THEN '' ELSE sc.phone_hash END,
                p.created, %(consent_version)s, p.r %% 10 < 3, CASE WHEN p.r %% 10 < 3 THEN p.created END,
                CASE WHEN p.purged THEN p.last_at + make_interval(days => %(retention_days)s) END, false,
                p.verified_at, CASE WHEN p.verified_at IS NOT NULL THEN '已电话核实。' ELSE '' END,
                p.published_at, (p.published_at AT TIME ZONE 'Asia/Shanghai')::date + %(claim_days)s,
                CASE WHEN p.state = 'rejected' THEN '不属于志愿服务范围，已转相关部门处理。' ELSE '' END,
                p.claimed_at, p.fulfilled_at, CASE WHEN p.done THEN '已上门完成。' ELSE '' END,
                p.fulfilled_at - interval '3 hours', p.fulfilled_at - interval '1 hour', CASE WHEN p.done THEN 2.00 END,
                '', CASE WHEN p.rated THEN 3 + p.r %% 3 END, '', p.confirmed_at, p.closed_at, p.created, p.last_at,
                claimer.id,
                c.id, c.grids[1 + p.r %% cardinality(c.grids)],
                CASE WHEN p.verified_at IS NOT NULL THEN c.secretary_user_id END,
                (%(categories)s::bigint[])[p.cat]
            FROM p
            JOIN scale_community c ON c.n = p.community_n
            JOIN scale_contact sc ON sc.n = p.i %% %(pool)s
            LEFT JOIN scale_claimer claimer ON claimer.community_n = p.community_n AND claimer.k = p.claimer_k
            """,
            params,
        )
        counts["wishes"] = cursor.rowcount
        cursor.execute("ANALYZE demands_microwish")  # filled in this transaction: the planner must know
        # The timeline: one event per transition that happened, at its time.
        cursor.execute(
            """
            INSERT INTO demands_wishevent (action, from_state, to_state, actor_kind, reason, public, created_at,
                                           actor_id, wish_id)
            SELECT e.action, e.from_state, e.action, e.actor_kind, e.reason, true, e.at, e.actor_id, w.id
            FROM demands_microwish w
            JOIN members_community c ON c.id = w.community_id
            LEFT JOIN members_member claimer ON claimer.id = w.claimed_by_id
            CROSS JOIN LATERAL (VALUES
                ('submitted', '', 'resident', '', w.created_at, NULL::int),
                ('verified', 'submitted', 'secretary', '', w.verified_at, w.verified_by_id),
                ('published', 'verified', 'secretary', '', w.published_at, w.verified_by_id),
                ('claimed', 'published', 'member', '', w.claimed_at, claimer.user_id),
                ('fulfilled', 'claimed', 'member', w.fulfilment_note, w.fulfilled_at, claimer.user_id),
                ('confirmed', 'fulfilled', 'resident', '', w.confirmed_at, NULL),
                ('closed', CASE WHEN w.confirmed_at IS NULL THEN 'fulfilled' ELSE 'confirmed' END, 'system', '',
                 w.closed_at, NULL),
                ('rejected', 'submitted', 'secretary', w.reject_reason,
                 CASE WHEN w.state = 'rejected' THEN w.updated_at END, w.verified_by_id),
                ('withdrawn', 'submitted', 'resident', '', CASE WHEN w.state = 'withdrawn' THEN w.updated_at END, NULL),
                ('expired', 'published', 'system', '', CASE WHEN w.state = 'expired' THEN w.updated_at END, NULL)
            ) AS e(action, from_state, actor_kind, reason, at, actor_id)
            WHERE c.id = ANY(%(communities)s) AND e.at IS NOT NULL
            """,
            params,
        )
        counts["wish events"] = cursor.rowcount
    return counts

"""Scale data of the projects app: branded projects of every branch, their activities and sign-ups, in bulk.

Called by `volunteer_platform.scale` after the members' part, in the same transaction (nothing here commits).
Set-based SQL with every constraint in place; what it writes is what the services could have written:

- `projects` published projects (5 % closed) spread over the branches, each in the community its committee
  serves, titled from a list of themes (category, service mode, target groups, place); slug "scale-<n>";
  no recurrence (so `activities_generate` adds nothing to them);
- `activities` per project, two hours each: past ones every six weeks (completed), the rest in the coming weeks
  (scheduled; cancelled for a closed project). A branch's projects never meet on the same day, so no member is
  confirmed for two overlapping activities;
- sign-ups by members of the project's branch: for a past activity attended (hours = the activity's length,
  checked in, marked by the branch's secretary), no-show or cancelled; for the next activity half the seats taken,
  or every fourth one full with two on the waiting list (positions 1, 2); a few on the later ones;
- for every attended sign-up the verified ServiceRecord that `attendance_submit` writes (source "activity",
  source_ref "activity:<id>", recorded and verified by the marker, recording organization = the project's).

`seed` returns the counts it wrote.
"""

from typing import Any

from django.db import connection

from .models import ProjectCategory, TargetGroup, target_groups_mask

# (category, title, brand, slogan, service mode, target groups, place)
THEMES = [
    ("助老", "空巢老人关爱行动", "银龄关爱", "党员常上门，老人不孤单", "direct", ("elderly_alone",), "居民家中"),
    (
        "关爱儿童",
        "四点半课堂",
        "七彩课堂",
        "放学有去处，作业有人教",
        "fixed_point",
        ("left_behind_children",),
        "社区四点半课堂",
    ),
    ("法律援助", "法律明白人进社区", "法润万家", "法律服务送到家门口", "team", ("general",), "社区党群服务中心"),
    ("平安巡逻", "网格平安巡逻", "红袖标", "红袖标在，平安常在", "grid", ("general",), "辖区各小区"),
    ("助残", "助残结对帮扶", "爱心结对", "一对一，心连心", "pairing", ("disabled", "low_income"), "居民家中"),
    (
        "医疗健康",
        "健康义诊进社区",
        "健康守护",
        "小病不出社区",
        "fixed_point",
        ("elderly_alone", "general"),
        "社区卫生服务站",
    ),
    ("环境卫生", "洁净家园行动", "美丽楼道", "楼道净，邻里亲", "grid", ("general",), "小区楼道"),
    ("文化教育", "红色文化宣讲", "红色讲堂", "讲好身边的红色故事", "direct", ("general",), "社区文化广场"),
    ("就业帮扶", "就业帮扶指导", "就业加油站", "帮一把，就业不再难", "direct", ("unemployed",), "社区党群服务中心"),
]
assert all(set(t[5]) <= set(TargetGroup.values) for t in THEMES)


def _h(salt: str, expr: str) -> str:
    return f"(hashtext('{salt}' || {expr})::bigint & 2147483647)"


def seed(*, branch_ids: list[int], projects: int, activities_per_project: int) -> dict[str, int]:
    categories = {c.name: c.pk for c in ProjectCategory.objects.all()}
    params: dict[str, Any] = {
        "branches": branch_ids,
        "projects": projects,
        "per": activities_per_project,
        "upcoming": max(1, activities_per_project // 5),
        "t_category": [categories[t[0]] for t in THEMES],
        "t_title": [t[1] for t in THEMES],
        "t_brand": [t[2] for t in THEMES],
        "t_slogan": [t[3] for t in THEMES],
        "t_mode": [t[4] for t in THEMES],
        "t_groups": [target_groups_mask(t[5]) for t in THEMES],
        "t_place": [t[6] for t in THEMES],
    }
    counts = {}
    with connection.cursor() as cursor:
        # The branches with their community (served by the parent committee), secretary and members numbered.
        cursor.execute(
            """
            CREATE TEMP TABLE scale_branch ON COMMIT DROP AS
            SELECT b.ord - 1 AS n, o.id, o.name, c.id AS community_id, c.name AS community_name,
                   s.user_id AS secretary_user_id,
                   (SELECT count(*) FROM members_member m WHERE m.organization_id = o.id) AS size
            FROM unnest(%(branches)s::bigint[]) WITH ORDINALITY AS b(id, ord)
            JOIN members_organization o ON o.id = b.id
            JOIN members_community c ON c.organization_id = o.parent_id
            LEFT JOIN members_member s ON s.id = o.secretary_id
            """,
            params,
        )
        cursor.execute(
            """
            CREATE TEMP TABLE scale_branch_member ON COMMIT DROP AS
            SELECT organization_id AS branch_id, row_number() OVER (PARTITION BY organization_id ORDER BY id) - 1 AS n,
                   id, user_id
            FROM members_member WHERE organization_id = ANY(%(branches)s)
            """,
            params,
        )
        cursor.execute("ALTER TABLE scale_branch_member ADD PRIMARY KEY (branch_id, n)")
        # Temporary tables are never auto-analysed, nor are the tables filled in this transaction: tell the planner.
        cursor.execute("ANALYZE scale_branch; ANALYZE scale_branch_member")
        cursor.execute("SELECT count(*) FROM scale_branch")
        params["nbranches"] = cursor.fetchone()[0]

        # Project p belongs to branch p mod B and is that branch's j-th (j = p div B); theme by (branch, j).
        cursor.execute(
            f"""
            CREATE TEMP TABLE scale_project ON COMMIT DROP AS
            SELECT p, p %% %(nbranches)s AS branch_n, p / %(nbranches)s AS j,
                   (p %% %(nbranches)s + p / %(nbranches)s) %% cardinality(%(t_title)s::text[]) + 1 AS theme,
                   CASE WHEN {_h("ps", "p")} %% 20 = 0 THEN 'closed' ELSE 'published' END AS status
            FROM generate_series(0, %(projects)s - 1) AS p
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO projects_serviceproject
                (slug, title, brand_name, slogan, logo, service_mode, target_groups, place, description, status,
                 recurrence, created_at, updated_at, category_id, community_id, organization_id)
            SELECT 'scale-' || sp.p,
                   left(b.community_name || (%(t_title)s::text[])[sp.theme] || '（' ||
                        substring(b.name from '第.+党支部$') || '）', 100),
                   (%(t_brand)s::text[])[sp.theme], (%(t_slogan)s::text[])[sp.theme], '',
                   (%(t_mode)s::text[])[sp.theme], (%(t_groups)s::int[])[sp.theme], (%(t_place)s::text[])[sp.theme],
                   b.name || '组织党员常态化开展的志愿服务项目。', sp.status, 'none',
                   now() - interval '400 days', now(),
                   (%(t_category)s::bigint[])[sp.theme], b.community_id, b.id
            FROM scale_project sp JOIN scale_branch b ON b.n = sp.branch_n
            """,
            params,
        )
        counts["projects"] = cursor.rowcount
        cursor.execute(
            """
            ALTER TABLE scale_project ADD COLUMN id bigint;
            UPDATE scale_project sp SET id = p.id FROM projects_serviceproject p WHERE p.slug = 'scale-' || sp.p;
            ANALYZE scale_project;
            """
        )

        # Activity k of a project: the past ones every six weeks back, then weekly ahead; day offset j keeps a
        # branch's projects on different days.
        cursor.execute(
            f"""
            WITH a AS MATERIALIZED (
                SELECT sp.id AS project_id, sp.status AS project_status, sp.p, sp.j, k,
                       k >= %(per)s - %(upcoming)s AS upcoming,
                       CASE WHEN k < %(per)s - %(upcoming)s
                            THEN CURRENT_DATE - (42 * (%(per)s - %(upcoming)s - k) + sp.j)
                            ELSE CURRENT_DATE + (2 + 7 * (k - %(per)s + %(upcoming)s) + sp.j) END AS day,
                       (ARRAY[TIME '09:00', TIME '14:30', TIME '19:00'])[1 + sp.p %% 3] AS at
                FROM scale_project sp CROSS JOIN generate_series(0, %(per)s - 1) AS k
            ), t AS MATERIALIZED (SELECT a.*, (a.day + a.at) AT TIME ZONE 'Asia/Shanghai' AS starts FROM a)
            INSERT INTO projects_activity
                (title, starts_at, ends_at, place, capacity, signup_opens_at, signup_closes_at, cancel_cutoff_at,
                 checkin_code, status, created_at, project_id)
            SELECT '', t.starts, t.starts + interval '2 hours', p.place, 6 + t.p %% 7,
                   t.starts - interval '14 days', t.starts - interval '1 hour', t.starts - interval '1 day',
                   lpad(({_h("code", "t.p || ':' || t.k")} %% 1000000)::text, 6, '0'),
                   CASE WHEN NOT t.upcoming THEN 'completed' WHEN t.project_status = 'closed' THEN 'cancelled'
                        ELSE 'scheduled' END,
                   least(now(), t.starts - interval '20 days'), t.project_id
            FROM t JOIN projects_serviceproject p ON p.id = t.project_id
            """,
            params,
        )
        counts["activities"] = cursor.rowcount
        cursor.execute("ANALYZE projects_activity")

        # Sign-ups: member (activity id * 7 + j) mod the branch's size — distinct within one activity.
        cursor.execute(
            f"""
            WITH a AS MATERIALIZED (
                SELECT a.id, a.starts_at, a.ends_at, a.capacity, a.status, sp.branch_n,
                       row_number() OVER (PARTITION BY a.project_id ORDER BY a.starts_at) AS ord
                FROM projects_activity a JOIN scale_project sp ON sp.id = a.project_id
            ), plan AS MATERIALIZED (
                SELECT a.*, b.id AS branch_id, b.size, b.secretary_user_id,
                       least(b.size, CASE
                           WHEN a.status = 'completed' THEN a.capacity - {_h("n", "a.id")} %% 2
                           WHEN a.status = 'cancelled' THEN 0
                           WHEN a.ord = %(per)s - %(upcoming)s + 1 AND {_h("full", "a.id")} %% 4 = 0 THEN a.capacity + 2
                           WHEN a.ord = %(per)s - %(upcoming)s + 1 THEN a.capacity / 2
                           ELSE {_h("n", "a.id")} %% 4 END) AS seats
                FROM a JOIN scale_branch b ON b.n = a.branch_n
            ), s AS MATERIALIZED (
                SELECT plan.*, j, {_h("st", "plan.id || ':' || j")} %% 100 AS roll
                FROM plan CROSS JOIN LATERAL generate_series(0, plan.seats - 1) AS j
            ), r AS MATERIALIZED (
                SELECT s.*, CASE
                    WHEN s.status = 'completed' AND s.roll < 88 THEN 'attended'
                    WHEN s.status = 'completed' AND s.roll < 94 THEN 'no_show'
                    WHEN s.status = 'completed' THEN 'cancelled'
                    WHEN s.j < s.capacity THEN 'confirmed'
                    ELSE 'waitlisted' END AS signup_status
                FROM s
            )
            INSERT INTO projects_signup
                (status, waitlist_position, checked_in_at, hours, created_at, cancelled_at, marked_at, activity_id,
                 marked_by_id, member_id)
            SELECT r.signup_status,
                   CASE WHEN r.signup_status = 'waitlisted' THEN r.j - r.capacity + 1 END,
                   CASE WHEN r.signup_status = 'attended' THEN r.starts_at - interval '10 minutes' END,
                   CASE WHEN r.signup_status = 'attended' THEN 2.00 END,
                   least(now() - interval '1 hour', r.starts_at - interval '7 days') + make_interval(mins => r.j::int),
                   CASE WHEN r.signup_status = 'cancelled' THEN r.starts_at - interval '3 days' END,
                   CASE WHEN r.signup_status IN ('attended', 'no_show') THEN r.ends_at + interval '1 hour' END,
                   r.id,
                   CASE WHEN r.signup_status IN ('attended', 'no_show') THEN r.secretary_user_id END,
                   m.id
            FROM r JOIN scale_branch_member m ON m.branch_id = r.branch_id AND m.n = (r.id * 7 + r.j) %% r.size
            """,
            params,
        )
        counts["signups"] = cursor.rowcount
        cursor.execute("ANALYZE projects_signup")

        # The verified record of every attended sign-up, as attendance_submit writes it.
        cursor.execute(
            """
            INSERT INTO members_servicerecord
                (member_id, date, started_at, ended_at, place, content, beneficiary_summary, hours, organizer,
                 recorder_id, recording_organization_id, source, source_ref, status, verified_by_id, verified_at,
                 void_reason, created_at, updated_at)
            SELECT s.member_id, (a.starts_at AT TIME ZONE 'Asia/Shanghai')::date, a.starts_at, a.ends_at, a.place,
                   '参加“' || coalesce(nullif(p.brand_name, ''), p.title) || '”活动：' || p.title, '', s.hours,
                   left(o.name, 50), s.marked_by_id, p.organization_id, 'activity', 'activity:' || a.id, 'verified',
                   s.marked_by_id, s.marked_at, '', s.marked_at, s.marked_at
            FROM projects_signup s
            JOIN projects_activity a ON a.id = s.activity_id
            JOIN scale_project sp ON sp.id = a.project_id
            JOIN projects_serviceproject p ON p.id = a.project_id
            JOIN members_organization o ON o.id = p.organization_id
            WHERE s.status = 'attended'
            """
        )
        counts["activity records"] = cursor.rowcount
    return counts

"""Scale data of the members app: a city district's party organisations, members and service records, in bulk.

Called by `volunteer_platform.scale` (`seed_demo --scale district`), which composes every app's part in one
transaction and times each. Everything is written with set-based SQL (INSERT … SELECT over generate_series) with
every constraint and index in place, so what the benchmark reads is what the services could have written:

- the tree: the district (the root, 党工委 being the highest level the type list has) → streets (街道党工委) →
  community committees (社区党委, each serving one Community with its grids) → branches (党支部); paths as
  `services.organization_create` makes them;
- members: evenly spread over the branches, volunteer numbers from one block of `services.volunteer_numbers_allocate`
  (the counter stays right), an account named by the number with the given password hash, Chinese names, birth
  years 1945–2000, availability, some skills and interests, the over-70s partly exempt. Phone and ID number are
  left blank (both are optional; their HMAC columns are blank with them, as the constraints want), so no
  generated person owns a real-looking number;
- a secretary for every organization (staff, as `organization_update` makes them) and a leader for every grid;
- service records besides the activities' ones (projects writes those): manual entries, self-reports and pairing
  visits over the last two years, mostly verified (verified_at set), some pending (recent), a few void (voided_at
  and a reason), recorded and verified by the branch's secretary; `source_ref` "scale:<n>".

Functions take plain counts and return what the next part needs; they do not commit (the caller's transaction).
"""

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from . import services
from .demo import GIVEN, INTERESTS, SKILLS, SURNAMES
from .models import Community, Grid, Organization, Tag

STREETS = ["东华门", "景山", "交道口", "安定门", "北新桥", "东四", "朝阳门", "建国门", "东直门", "和平里"]
COMMUNITY_NAMES = ["幸福里", "长青", "新华", "光明", "育才", "和谐", "春晖", "建设", "向阳", "民安"]
NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]
GRID_NAMES = ["第一网格", "第二网格", "第三网格", "第四网格", "第五网格"]


def _numeral(n: int) -> str:
    return NUMERALS[n - 1] if n <= len(NUMERALS) else str(n)


@dataclass
class Tree:
    root: Organization
    branch_ids: list[int]
    committee_ids: list[int]  # the community committees, in the order of `community_ids`
    community_ids: list[int]


def seed_tree(*, name: str, streets: int, communities: int, branches: int, grids: int) -> Tree:
    """The district `name` with `streets` streets, `communities` community committees per street (each serving a
    Community with `grids` grids) and `branches` branches per committee."""
    root = services.organization_create(name=name, type=Organization.Type.WORKING_COMMITTEE, actor=None)
    now = timezone.now()

    def level(parents: list[Organization], count: int, type: str, name_of) -> list[Organization]:
        children = [
            Organization(
                parent=parent,
                type=type,
                name=name_of(parent, n),
                contact_name="党建办",
                contact_phone=f"010-{6400 + p % 100:04d}{n:04d}",
                created_at=now,
                updated_at=now,
            )
            for p, parent in enumerate(parents)
            for n in range(1, count + 1)
        ]
        Organization.objects.bulk_create(children)
        for child, parent in zip(children, (parent for parent in parents for _n in range(count)), strict=True):
            child.path = f"{parent.path}{child.pk:06d}."
        Organization.objects.bulk_update(children, ["path"], batch_size=2000)
        return children

    def street_name(_parent, n):
        base = STREETS[(n - 1) % len(STREETS)]
        return f"{base}街道党工委" if n <= len(STREETS) else f"{base}第{n}街道党工委"

    def community_label(street: Organization, n: int) -> str:
        base = COMMUNITY_NAMES[(n - 1) % len(COMMUNITY_NAMES)]
        return street.name.removesuffix("街道党工委") + base + ("社区" if n <= len(COMMUNITY_NAMES) else f"{n}社区")

    street_rows = level([root], streets, Organization.Type.WORKING_COMMITTEE, street_name)
    committees = level(
        street_rows, communities, Organization.Type.COMMITTEE, lambda s, n: f"{community_label(s, n)}党委"
    )
    branch_rows = level(
        committees, branches, Organization.Type.BRANCH, lambda c, n: f"{c.name[:-2]}第{_numeral(n)}党支部"
    )
    community_rows = Community.objects.bulk_create(
        [
            Community(organization=c, name=c.name[:-2], address=f"{c.name[:-4]}路{i % 200 + 1}号", created_at=now)
            for i, c in enumerate(committees)
        ]
    )
    Grid.objects.bulk_create(
        [
            Grid(community=c, name=GRID_NAMES[g % 5] if g < 5 else f"第{g + 1}网格")
            for c in community_rows
            for g in range(grids)
        ]
    )
    return Tree(
        root=root,
        branch_ids=[b.pk for b in branch_rows],
        committee_ids=[c.pk for c in committees],
        community_ids=[c.pk for c in community_rows],
    )


def _h(salt: str, expr: str = "i") -> str:
    """SQL for a deterministic pseudo-random non-negative integer of `expr` (different per salt)."""
    return f"(hashtext('{salt}' || {expr})::bigint & 2147483647)"


def _pick(array: str, salt: str) -> str:
    """SQL for a pseudo-random element of the text-array parameter `array`."""
    return f"(%({array})s::text[])[1 + {_h(salt)} %% cardinality(%({array})s::text[])]"


def seed_members(*, tree: Tree, count: int, password_hash: str) -> int:
    """`count` members spread evenly over the tree's branches; returns how many were added."""
    numbers = services.volunteer_numbers_allocate(count=count)
    prefix, first = numbers[0][:5], int(numbers[0][5:])
    if first + count - 1 > 999_999:
        raise ValueError("the year's volunteer-number sequence would overflow six digits")
    this_year = timezone.localdate().year
    skills = [Tag.objects.get_or_create(kind=Tag.Kind.SKILL, name=n)[0].pk for n in SKILLS]
    interests = [Tag.objects.get_or_create(kind=Tag.Kind.INTEREST, name=n)[0].pk for n in INTERESTS]
    params: dict[str, Any] = {
        "password": password_hash,
        "prefix": prefix,
        "first": first,
        "count": count,
        "branches": tree.branch_ids,
        "surnames": list(SURNAMES),
        "male_old": GIVEN[("male", "older")],
        "male_young": GIVEN[("male", "younger")],
        "female_old": GIVEN[("female", "older")],
        "female_young": GIVEN[("female", "younger")],
        "year": this_year,
        "skills": skills,
        "interests": interests,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                   is_active, date_joined)
            SELECT %(password)s, false, %(prefix)s || lpad((%(first)s + i)::text, 6, '0'), '', '', '', false,
                   true, now()
            FROM generate_series(0, %(count)s - 1) AS i
            """,
            params,
        )
        cursor.execute(
            f"""
            WITH g AS MATERIALIZED (
                SELECT i, 1945 + {_h("by")} %% 56 AS birth_year, {_h("gender")} %% 2 AS female
                FROM generate_series(0, %(count)s - 1) AS i
            )
            INSERT INTO members_member (user_id, volunteer_number, name, gender, birth_year, phone, phone_hash,
                                        id_number, id_number_hash, organization_id, availability, status,
                                        show_full_name_publicly, created_at, updated_at)
            SELECT u.id, u.username,
                   {_pick("surnames", "sn")}
                   || CASE WHEN g.female = 0 AND g.birth_year < 1966 THEN {_pick("male_old", "gn")}
                           WHEN g.female = 0 THEN {_pick("male_young", "gn")}
                           WHEN g.birth_year < 1966 THEN {_pick("female_old", "gn")}
                           ELSE {_pick("female_young", "gn")} END,
                   CASE WHEN g.female = 0 THEN 'male' ELSE 'female' END, g.birth_year, '', '', '', '',
                   (%(branches)s::bigint[])[1 + i %% cardinality(%(branches)s::bigint[])],
                   {_h("av")} %% 2097152,
                   CASE WHEN g.birth_year <= %(year)s - 70 AND {_h("ex")} %% 3 = 0 THEN 'exempt' ELSE 'active' END,
                   false, now(), now()
            FROM g JOIN auth_user u ON u.username = %(prefix)s || lpad((%(first)s + g.i)::text, 6, '0')
            """,
            params,
        )
        # Half the members name a skill, everyone an interest (matching and the teams use them).
        for table, tags, share in (
            ("members_member_skills", "skills", 2),
            ("members_member_interests", "interests", 1),
        ):
            cursor.execute(
                f"""
                INSERT INTO {table} (member_id, tag_id)
                SELECT m.id, (%({tags})s::bigint[])[1 + {_h(tags, "m.id")} %% cardinality(%({tags})s::bigint[])]
                FROM members_member m
                WHERE m.organization_id = ANY(%(branches)s) AND {_h("share" + tags, "m.id")} %% {share} = 0
                """,
                params,
            )
        # Filled in this transaction: the later parts' plans need the new sizes (autovacuum cannot see them yet).
        cursor.execute("ANALYZE auth_user; ANALYZE members_member")
    return count


def seed_roles(*, tree: Tree) -> None:
    """A secretary for every organization of the tree (a branch: its first member; above: the last member of its
    first branch) and a leader for every grid (a member of the committee's branches); secretaries become staff."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE members_organization o SET secretary_id = m.first_id
            FROM (SELECT organization_id, min(id) AS first_id FROM members_member
                  WHERE organization_id = ANY(%(branches)s) GROUP BY organization_id) m
            WHERE o.id = m.organization_id
            """,
            {"branches": tree.branch_ids},
        )
        cursor.execute(
            """
            UPDATE members_organization o SET secretary_id = (
                SELECT max(m.id) FROM members_member m
                WHERE m.organization_id = (
                    SELECT b.id FROM members_organization b
                    WHERE b.path LIKE o.path || '%%' AND b.type = 'branch' ORDER BY b.path LIMIT 1))
            WHERE o.path LIKE %(root)s AND o.type <> 'branch'
            """,
            {"root": tree.root.path + "%"},
        )
        cursor.execute(
            """
            UPDATE auth_user u SET is_staff = true
            FROM members_member m JOIN members_organization o ON o.secretary_id = m.id
            WHERE u.id = m.user_id AND o.path LIKE %(root)s
            """,
            {"root": tree.root.path + "%"},
        )
        # Grid k of a community is led by the second member of the committee's k-th branch.
        cursor.execute(
            """
            WITH b AS MATERIALIZED (
                SELECT o.parent_id AS committee_id, o.id,
                       row_number() OVER (PARTITION BY o.parent_id ORDER BY o.path) AS k
                FROM members_organization o WHERE o.id = ANY(%(branches)s)
            ), second AS MATERIALIZED (
                SELECT organization_id, id FROM (
                    SELECT organization_id, id, row_number() OVER (PARTITION BY organization_id ORDER BY id) AS r
                    FROM members_member WHERE organization_id = ANY(%(branches)s)) x WHERE r = 2
            ), g AS MATERIALIZED (
                SELECT gr.id, c.organization_id AS committee_id,
                       row_number() OVER (PARTITION BY gr.community_id ORDER BY gr.name, gr.id) AS k
                FROM members_grid gr JOIN members_community c ON c.id = gr.community_id
                WHERE c.id = ANY(%(communities)s)
            )
            UPDATE members_grid gr SET leader_id = second.id
            FROM g JOIN b ON b.committee_id = g.committee_id AND b.k = g.k JOIN second ON second.organization_id = b.id
            WHERE gr.id = g.id
            """,
            {"branches": tree.branch_ids, "communities": tree.community_ids},
        )


# (content, place, beneficiary summary)
RECORD_KINDS = [
    ("为空巢老人上门理发", "居民家中", "空巢老人3户"),
    ("法律咨询进社区", "社区党群服务中心", "居民20余人"),
    ("测血压、讲解慢病用药", "社区卫生服务站", "老年居民30余人"),
    ("帮老人学用智能手机", "社区党群服务中心", "老年居民15人"),
    ("四点半课堂辅导作业", "社区四点半课堂", "小学生12人"),
    ("垃圾分类宣传与桶前值守", "小区垃圾分类站", "居民"),
    ("夜间平安巡逻", "辖区各小区", ""),
    ("走访结对困难家庭", "居民家中", "结对家庭1户"),
]


def seed_records(*, tree: Tree, count: int) -> int:
    """`count` service records (not from activities) for random members of the tree over the last 730 days."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TEMP TABLE scale_member ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY m.id) - 1 AS n, m.id, m.organization_id, o.name AS organization_name,
                   s.user_id AS secretary_user_id
            FROM members_member m
            JOIN members_organization o ON o.id = m.organization_id
            LEFT JOIN members_member s ON s.id = o.secretary_id
            WHERE m.organization_id = ANY(%(branches)s)
            """,
            {"branches": tree.branch_ids},
        )
        cursor.execute("ALTER TABLE scale_member ADD PRIMARY KEY (n)")
        cursor.execute("ANALYZE scale_member")  # temporary tables are never auto-analysed
        cursor.execute("SELECT count(*) FROM scale_member")
        members = cursor.fetchone()[0]
        cursor.execute(
            f"""
            WITH g AS MATERIALIZED (
                SELECT i, {_h("rm")} %% %(members)s AS n, {_h("rk")} %% %(kinds)s AS kind, {_h("rs")} %% 100 AS roll,
                       (1 + {_h("rh")} %% 6) * 0.5 AS hours,
                       (ARRAY[TIME '09:00', TIME '14:30', TIME '19:00'])[1 + {_h("rt")} %% 3] AS at
                FROM generate_series(1, %(count)s) AS i
            ), d AS MATERIALIZED (
                SELECT g.*, CASE WHEN roll >= 93 AND roll < 98 THEN CURRENT_DATE - (1 + {_h("rd")} %% 14)::int
                                 ELSE CURRENT_DATE - (3 + {_h("rd")} %% 728)::int END AS day,
                       CASE WHEN roll < 93 THEN 'verified' WHEN roll < 98 THEN 'pending' ELSE 'void' END AS status,
                       CASE WHEN roll %% 10 < 7 THEN 'manual' WHEN roll %% 10 < 9 THEN 'self_report' ELSE 'pairing' END
                           AS source
                FROM g
            ), t AS MATERIALIZED (
                SELECT d.*, (d.day + d.at) AT TIME ZONE 'Asia/Shanghai' AS started FROM d
            )
            INSERT INTO members_servicerecord
                (member_id, date, started_at, ended_at, place, content, beneficiary_summary, hours, evaluation,
                 organizer, recorder_id, recording_organization_id, source, source_ref, status, verified_by_id,
                 verified_at, voided_by_id, voided_at, void_reason, created_at, updated_at)
            SELECT m.id, t.day, t.started, t.started + make_interval(mins => (t.hours * 60 + 30)::int),
                   (%(places)s::text[])[1 + t.kind], (%(contents)s::text[])[1 + t.kind],
                   (%(summaries)s::text[])[1 + t.kind], t.hours,
                   CASE WHEN t.status = 'verified' AND t.roll %% 3 > 0 THEN 3 + t.roll %% 3 END,
                   left(m.organization_name, 50), m.secretary_user_id, m.organization_id, t.source, 'scale:' || t.i,
                   t.status,
                   CASE WHEN t.status <> 'pending' THEN m.secretary_user_id END,
                   CASE WHEN t.status <> 'pending' THEN t.started + interval '1 day' END,
                   CASE WHEN t.status = 'void' THEN m.secretary_user_id END,
                   CASE WHEN t.status = 'void' THEN t.started + interval '2 days' END,
                   CASE WHEN t.status = 'void' THEN '重复登记' ELSE '' END,
                   least(now(), t.started + interval '3 hours'), least(now(), t.started + interval '2 days')
            FROM t JOIN scale_member m ON m.n = t.n
            """,
            {
                "members": members,
                "count": count,
                "kinds": len(RECORD_KINDS),
                "contents": [k[0] for k in RECORD_KINDS],
                "places": [k[1] for k in RECORD_KINDS],
                "summaries": [k[2] for k in RECORD_KINDS],
            },
        )
        added = cursor.rowcount
        cursor.execute("ANALYZE members_servicerecord")
        return added

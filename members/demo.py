"""Demo data of the members app: a realistic street, seeded by `seed_demo` through `volunteer_platform.demo.seed`.

和平街道党工委 with three communities (幸福里, 长青, 新华社区), each served by its 社区党委 with three or four
branches and three grids with their leaders; and 区卫健委机关党委 → 区卫健委机关党支部, in-service members who
register at the community where they live (双报到, some confirmed, some pending). Members have Chinese names, birth
years 1945–2000, mobile numbers, skills, interests and weekly availability; some over 70 are exempt (免除). Four
service teams, and service records — most verified, some pending — for the first members.

Named sign-ins (DEMO_ACCOUNTS): `shequ`, secretary of 幸福里社区党委; `zhibu`, secretary of its first branch; and
`dangyuan`, a member of that branch with records. They have `password`; so do the generated members, whose
username is their volunteer number (one hash, computed once).

Idempotent: organizations, communities, grids and teams are found by name, the named accounts by username, records by
their source reference, registrations by member. `members` is the number of members the demo organizations should
have: missing ones are added (never removed), so running twice adds nothing and `members=500` after 300 adds 200.
Generated member i is the same person on every run (who is over 70 follows the year); members are added in bulk
(`services.members_import`, 5,000 rows per call).
"""

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import services, validators
from .availability import SLOTS
from .models import Community, Grid, Member, Organization, ServiceRecord, Tag, Team

SEED = 20240701  # the generated street is the same on every machine
BATCH = 5000  # rows per services.members_import call

STREET = "和平街道党工委"
STREET_CONTACT = ("街道党建办", "010-65230000")
# community, its committee, its branches (the first one is where the named accounts belong)
COMMUNITIES = [
    (
        "幸福里社区",
        "幸福里社区党委",
        ["幸福里社区第一党支部", "幸福里社区第二党支部", "幸福里社区离退休党支部", "幸福里社区非公企业联合党支部"],
    ),
    ("长青社区", "长青社区党委", ["长青社区第一党支部", "长青社区第二党支部", "长青社区老干部党支部"]),
    ("新华社区", "新华社区党委", ["新华社区第一党支部", "新华社区第二党支部", "新华社区流动党员党支部"]),
]
GRIDS = ["第一网格", "第二网格", "第三网格"]
WORKPLACE = ("区卫健委机关党委", "区卫健委机关党支部")  # in-service members: they report to where they live

SKILLS = ["理发", "家电维修", "法律咨询", "医疗护理", "心理疏导", "书法", "电脑维修", "辅导作业", "厨艺", "摄影"]
INTERESTS = ["助老", "关爱儿童", "环境保护", "文化宣传", "助残", "平安巡逻", "政策宣讲"]


@dataclass(frozen=True)
class Person:
    username: str
    name: str
    gender: str
    birth_year: int
    phone: str  # 199…: a prefix the generated members never use
    skills: tuple[str, ...]
    interests: tuple[str, ...]
    availability: tuple[str, ...]


SHEQU = Person("shequ", "李建华", "male", 1968, "19900000001", ("法律咨询",), ("政策宣讲",), ("mon-pm", "thu-pm"))
ZHIBU = Person("zhibu", "王秀兰", "female", 1962, "19900000002", ("心理疏导", "厨艺"), ("助老",), ("tue-am", "fri-am"))
DANGYUAN = Person(
    "dangyuan",
    "张明",
    "male",
    1975,
    "19900000003",
    ("家电维修", "电脑维修"),
    ("助老", "关爱儿童"),
    ("wed-eve", "sat-am", "sat-pm", "sun-am"),
)
NAMED = (SHEQU, ZHIBU, DANGYUAN)

# Surnames weighted by how common they are; given names by generation and gender.
SURNAMES = (
    "王" * 71 + "李" * 70 + "张" * 67 + "刘" * 54 + "陈" * 45 + "杨" * 31 + "黄" * 22 + "赵" * 21 + "吴" * 20
    + "周" * 19 + "徐" * 13 + "孙" * 13 + "马" * 12 + "朱" * 12 + "胡" * 11 + "郭" * 11 + "何" * 10 + "高" * 10
    + "林" * 10 + "罗" * 9 + "郑" * 9 + "梁" * 9 + "谢" * 7 + "宋" * 6 + "唐" * 6 + "许" * 6 + "韩" * 6 + "冯" * 6
    + "邓" * 6 + "曹" * 5 + "彭" * 5 + "曾" * 5 + "肖" * 5 + "田" * 5 + "董" * 5 + "袁" * 4 + "潘" * 4 + "于" * 4
    + "蒋" * 4 + "蔡" * 4 + "余" * 4 + "杜" * 4 + "叶" * 4 + "程" * 4 + "苏" * 3 + "魏" * 3 + "吕" * 3 + "丁" * 3
    + "任" * 3 + "沈" * 3
)  # fmt: skip
_GIVEN_NAMES = {
    ("male", "older"): "建国 建华 国强 国庆 志强 振华 卫东 保国 学军 玉林 长青 德明 永生 富贵 海 军 平 刚 强 勇 斌 明",
    ("male", "younger"): "伟 磊 涛 杰 浩 宇 鹏 超 俊杰 浩然 志远 晨阳 博文 天宇 家豪 明辉 立伟 海涛 子轩 一鸣",
    ("female", "older"): "秀英 桂英 秀兰 玉兰 桂兰 凤英 淑珍 淑兰 玉珍 兰英 素梅 丽华 美华 玉梅 秀珍 红梅 芳 英",
    ("female", "younger"): "芳 娜 敏 静 丽 艳 婷 雪 燕 玲 慧 丹 洁 倩 佳怡 欣怡 思雨 雨涵 晓燕 丽娟 婷婷",
}
GIVEN = {key: names.split() for key, names in _GIVEN_NAMES.items()}
PREFIXES = ("138", "139", "135", "136", "137", "150", "151", "152", "158", "159", "186", "187", "188", "133", "189")

# (content, place, beneficiaries, skill that fits or "")
SERVICES = [
    ("为空巢老人上门理发", "居民家中", "空巢老人3户", "理发"),
    ("检修老人家中的小家电", "居民家中", "独居老人2户", "家电维修"),
    ("法律咨询进社区", "社区党群服务中心", "居民20余人", "法律咨询"),
    ("测血压、讲解慢病用药", "社区卫生服务站", "老年居民30余人", "医疗护理"),
    ("陪伴独居老人聊天、心理疏导", "居民家中", "独居老人2户", "心理疏导"),
    ("春联义写", "社区文化广场", "居民50余户", "书法"),
    ("帮老人学用智能手机", "社区党群服务中心", "老年居民15人", "电脑维修"),
    ("四点半课堂辅导作业", "社区四点半课堂", "小学生12人", "辅导作业"),
    ("为高龄老人做午餐", "社区老年食堂", "高龄老人20人", "厨艺"),
    ("拍摄社区全家福", "社区文化广场", "居民家庭18户", "摄影"),
    ("垃圾分类宣传与桶前值守", "小区垃圾分类站", "居民", ""),
    ("夜间平安巡逻", "辖区各小区", "", ""),
    ("文明交通劝导", "和平路与长青街路口", "", ""),
    ("清理楼道堆物", "幸福里小区", "居民楼6栋", ""),
]


def seed(*, members: int = 300, password: str | None = None, stdout=None) -> None:
    """Build the demo street and top its members up to `members` (see the module docstring). `password` is given
    to every demo account (None: accounts keep unusable passwords, as after a real import)."""
    password_hash = make_password(password) if password else None
    with transaction.atomic():
        structure = _structure()
        named = _named_members(structure, password_hash)
    created = _top_up(structure, members, password_hash)  # one transaction per batch of 5,000
    with transaction.atomic():
        _secretaries(structure, named)
        _grids(structure)
        _teams(structure, named)
        _registrations(structure)
        _records(structure, named)
    if stdout is not None:
        total = _demo_members(structure).count()
        stdout.write(f"members: {total} demo members ({created} added), demo sign-ins shequ, zhibu, dangyuan")


# --- Organisation tree, communities -----------------------------------------------------------------------------


@dataclass
class _Structure:
    street: Organization
    workplace_committee: Organization
    workplace: Organization
    committees: list[Organization]
    branches: list[Organization]  # all branches, the workplace branch last
    communities: list[Community]


def _organization(name: str, type: str, parent: Organization | None, contact=("", "")) -> Organization:
    found = Organization.objects.filter(name=name, parent=parent).first()
    if found is not None:
        return found
    return services.organization_create(
        name=name, type=type, parent=parent, actor=None, contact_name=contact[0], contact_phone=contact[1]
    )


def _structure() -> _Structure:
    street = _organization(STREET, Organization.Type.WORKING_COMMITTEE, None, STREET_CONTACT)
    committees, branches, communities = [], [], []
    for number, (community_name, committee_name, branch_names) in enumerate(COMMUNITIES, 1):
        office = (f"{community_name}居委会", f"010-6523{number:04d}")
        committee = _organization(committee_name, Organization.Type.COMMITTEE, street, office)
        committees.append(committee)
        branches += [_organization(name, Organization.Type.BRANCH, committee, office) for name in branch_names]
        community, _created = Community.objects.get_or_create(
            organization=committee,
            name=community_name,
            defaults={"address": f"和平街道{community_name[:-2]}路{number}号"},
        )
        communities.append(community)
    workplace_committee = _organization(WORKPLACE[0], Organization.Type.COMMITTEE, None, ("机关党办", "010-65239000"))
    workplace = _organization(WORKPLACE[1], Organization.Type.BRANCH, workplace_committee, ("机关党办", "010-65239000"))
    return _Structure(street, workplace_committee, workplace, committees, [*branches, workplace], communities)


def _demo_members(structure: _Structure):
    return Member.objects.filter(
        Q(organization__path__startswith=structure.street.path)
        | Q(organization__path__startswith=structure.workplace_committee.path)
    )


# --- Members ----------------------------------------------------------------------------------------------------


def _named_members(structure: _Structure, password_hash: str | None) -> dict[str, Member]:
    User = get_user_model()
    home = structure.branches[0]
    named = {}
    for person in NAMED:
        member = Member.objects.filter(user__username=person.username).first()
        if member is None:
            user = User.objects.create(username=person.username, password=password_hash or make_password(None))
            member = services.member_create(
                name=person.name,
                phone=person.phone,
                organization=home,
                actor=None,
                gender=person.gender,
                birth_year=person.birth_year,
                skills=[Tag.objects.get_or_create(kind=Tag.Kind.SKILL, name=n)[0] for n in person.skills],
                interests=[Tag.objects.get_or_create(kind=Tag.Kind.INTEREST, name=n)[0] for n in person.interests],
                availability=sum(1 << SLOTS.index(slot) for slot in person.availability),
                user=user,
            )
        named[person.username] = member
    for committee, person in ((structure.committees[0], SHEQU), (home, ZHIBU)):
        if committee.secretary_id is None:
            _set_secretary(committee, named[person.username])
    return named


def _set_secretary(organization: Organization, member: Member) -> None:
    services.organization_update(
        organization=organization,
        actor=None,
        name=organization.name,
        type=organization.type,
        secretary=member,
        contact_name=organization.contact_name,
        contact_phone=organization.contact_phone,
    )
    organization.secretary = member


def _branch_profile(branch: Organization) -> str:
    if "离退休" in branch.name or "老干部" in branch.name:
        return "retired"
    if "机关" in branch.name or "非公" in branch.name or "流动" in branch.name:
        return "working"
    return "mixed"


_BRANCH_WEIGHTS = {"mixed": 3, "retired": 2, "working": 1}


def generated_phone(index: int) -> str:
    """The mobile number of generated member `index`: 8 digits that are a bijection of the index (7,919 is prime to
    10⁸), so no two generated members share a number, behind a common prefix."""
    return PREFIXES[index % len(PREFIXES)] + f"{(index * 7_919 + 4_260_317) % 10**8:08d}"


def _generated(index: int, branches: list[Organization], weights: list[int], this_year: int) -> validators.NewMember:
    """Member number `index` of the demo: the same person whenever and wherever it is generated."""
    rng = random.Random(SEED * 1_000_003 + index)
    branch = rng.choices(branches, weights)[0]
    profile = _branch_profile(branch)
    birth_year = {
        "retired": lambda: rng.randint(1945, 1962),
        "working": lambda: rng.randint(1972, 2000),
        "mixed": lambda: rng.choice((rng.randint(1945, 1965), rng.randint(1960, 2000))),
    }[profile]()
    gender = rng.choice(("male", "female"))
    generation = "older" if birth_year < 1966 else "younger"
    name = rng.choice(SURNAMES) + rng.choice(GIVEN[(gender, generation)])
    phone = generated_phone(index)
    if birth_year <= 1962:  # retired: weekday mornings and afternoons
        slots = rng.sample([s for s in SLOTS if s[:3] in ("mon", "tue", "wed", "thu", "fri") and s[4:] != "eve"], 4)
    else:  # at work: weekends and a few evenings
        slots = rng.sample([s for s in SLOTS if s[:3] in ("sat", "sun")], 3) + rng.sample(
            [s for s in SLOTS if s.endswith("eve")], rng.randint(0, 2)
        )
    exempt = birth_year <= this_year - 70 and rng.random() < 0.35
    return validators.NewMember(
        name=name,
        phone=phone,
        organization=branch,
        gender=gender,
        birth_year=birth_year,
        skills=tuple(rng.sample(SKILLS, rng.choice((0, 1, 1, 2)))),
        interests=tuple(rng.sample(INTERESTS, rng.choice((1, 1, 2)))),
        availability=sum(1 << SLOTS.index(slot) for slot in slots),
        status=Member.Status.EXEMPT if exempt else Member.Status.ACTIVE,
    )


def _top_up(structure: _Structure, target: int, password_hash: str | None) -> int:
    """Add generated members until the demo organizations have `target`; returns how many were added."""
    existing = _demo_members(structure).count()
    missing = target - existing
    if missing <= 0:
        return 0
    branches = structure.branches
    weights = [_BRANCH_WEIGHTS[_branch_profile(b)] for b in branches]
    this_year = timezone.localdate().year
    index = max(existing - len(NAMED), 0)  # generated members so far (as far as counting tells)
    added = 0
    while added < missing:
        count = min(BATCH, missing - added)
        rows = [_generated(i, branches, weights, this_year) for i in range(index, index + count)]
        index += count
        # A number already registered (a member added by hand, one generated and then transferred away) is
        # skipped, and the next index makes up for it.
        problems = validators.check_new_members(rows)
        rows = [row for row, found in zip(rows, problems, strict=True) if not found]
        with transaction.atomic():
            created = services.members_import(rows=rows, actor=None, reason="演示数据")
            if password_hash:
                get_user_model().objects.filter(pk__in=[m.user_id for m in created]).update(password=password_hash)
        added += len(created)
    return added


# --- Secretaries, grids, teams, 双报到 ---------------------------------------------------------------------------


def _secretaries(structure: _Structure, named: dict[str, Member]) -> None:
    """Every demo organization without a secretary gets the first active member of its subtree who leads nothing
    yet (the named accounts keep their roles)."""
    taken = set(Organization.objects.filter(secretary__isnull=False).values_list("secretary_id", flat=True))
    taken |= {member.pk for member in named.values()}
    organizations = [structure.street, *structure.committees, structure.workplace_committee, *structure.branches]
    for organization in organizations:
        organization.refresh_from_db()
        if organization.secretary_id is not None:
            continue
        candidate = (
            Member.objects.filter(organization__path__startswith=organization.path, status=Member.Status.ACTIVE)
            .exclude(pk__in=taken)
            .order_by("volunteer_number")
            .first()
        )
        if candidate is not None:
            _set_secretary(organization, candidate)
            taken.add(candidate.pk)


def _grids(structure: _Structure) -> None:
    for community, committee in zip(structure.communities, structure.committees, strict=True):
        leaders = Member.objects.filter(
            organization__path__startswith=committee.path, status=Member.Status.ACTIVE, grids_led__isnull=True
        ).order_by("-volunteer_number")  # not the first members, who are secretaries
        for name in GRIDS:
            grid, _created = Grid.objects.get_or_create(community=community, name=name)
            if grid.leader_id is None:
                grid.leader = leaders.exclude(organizations_as_secretary__isnull=False).first()
                grid.save(update_fields=["leader"])


def _teams(structure: _Structure, named: dict[str, Member]) -> None:
    xingfu, changqing, xinhua = structure.committees
    this_year = timezone.localdate().year
    specs = [
        ("银龄先锋服务队", xingfu, Q(birth_year__lte=this_year - 60), None, "低龄老人服务高龄老人：陪伴、代购、探访。"),
        ("幸福里家电维修服务队", xingfu, Q(skills__name="家电维修"), named["dangyuan"], "每月第二个周六上门维修。"),
        ("长青红心理发服务队", changqing, Q(skills__name="理发"), None, "为行动不便的老人上门理发。"),
        ("新华青年志愿服务队", xinhua, Q(birth_year__gte=1985), None, "周末环境整治、文明交通劝导。"),
    ]
    for name, organization, who, leader, description in specs:
        if Team.objects.filter(organization=organization, name=name).exists():
            continue
        people = list(
            Member.objects.filter(who, organization__path__startswith=organization.path, status=Member.Status.ACTIVE)
            .select_related("organization")
            .distinct()
            .order_by("volunteer_number")[:10]
        )
        if leader is not None and leader not in people:
            people.insert(0, leader)
        if people:
            services.team_create(
                organization=organization,
                name=name,
                leader=leader or people[0],
                members=people,
                description=description,
                actor=None,
            )


def _registrations(structure: _Structure) -> None:
    """In-service members register where they live; two in three are confirmed by the community's secretary."""
    newcomers = list(
        Member.objects.filter(
            organization=structure.workplace, status=Member.Status.ACTIVE, residence_registrations=None
        )
        .exclude(organizations_as_secretary__isnull=False)
        .order_by("volunteer_number")[:30]
    )
    for position, member in enumerate(newcomers):
        community = structure.communities[position % len(structure.communities)]
        grid = community.grids.order_by("name")[position % len(GRIDS)] if community.grids.exists() else None
        registration = services.residence_register(
            member=member,
            community=community,
            grid=grid,
            actor=member.user,
            registered_on=timezone.localdate() - timedelta(days=5 + position * 3),
        )
        secretary = community.organization.secretary
        if position % 3 != 2 and secretary is not None:
            services.residence_confirm(registration=registration, actor=secretary.user)


# --- Service records --------------------------------------------------------------------------------------------

RECORDED_MEMBERS = 120  # the first members get records; the rest of a large demo has none


def _records(structure: _Structure, named: dict[str, Member]) -> None:
    """1–4 records for each of the first active members of the street; the last one of every third member still
    waits for confirmation. `dangyuan` has four: three confirmed, one pending."""
    people = list(
        Member.objects.filter(organization__path__startswith=structure.street.path, status=Member.Status.ACTIVE)
        .select_related("organization__secretary__user", "organization__parent__secretary__user", "user")
        .prefetch_related("skills")
        .order_by("volunteer_number")[:RECORDED_MEMBERS]
    )
    today = timezone.localdate()
    for position, member in enumerate(people):
        rng = random.Random(f"{SEED}:records:{member.volunteer_number}")
        is_dangyuan = member.pk == named["dangyuan"].pk
        count = 4 if is_dangyuan else rng.randint(1, 4)
        pending_last = is_dangyuan or position % 3 == 0
        skills = {tag.name for tag in member.skills.all()}
        fitting = [s for s in SERVICES if s[3] in skills] or [s for s in SERVICES if not s[3]]
        verifier = _verifier(member)
        if verifier is None:  # a tiny demo may leave an organization without a secretary
            continue
        for k in range(count):
            content, place, beneficiaries, _skill = rng.choice(fitting)
            pending = pending_last and k == count - 1
            day = today - timedelta(days=rng.randint(1, 6) if pending else rng.randint(10, 200))
            start_at = rng.choice((time(9, 0), time(14, 30), time(19, 0)))
            start = datetime.combine(day, start_at, tzinfo=timezone.get_current_timezone())
            hours = Decimal(rng.choice(("1.5", "2", "2.5", "3")))
            record = services.service_record_create(
                member=member,
                start=start,
                end=start + timedelta(hours=float(hours) + 0.5),
                hours=hours,
                place=place,
                content=content,
                beneficiary_summary=beneficiaries,
                source=ServiceRecord.Source.MANUAL,
                source_ref=f"demo:{k}",
                recording_organization=member.organization,
                organizer=verifier.name,
                recorder=verifier.user,
                evaluation=None if pending else rng.choice((4, 5, 5)),
            )
            if not pending and record.status == ServiceRecord.Status.PENDING:
                services.service_record_verify(record=record, verifier=verifier.user)


def _verifier(member: Member) -> Member | None:
    """Who records and confirms a member's hours: their branch's secretary, or — for the secretary's own — the
    secretary above."""
    for organization in (member.organization, member.organization.parent):
        if organization is not None and organization.secretary is not None and organization.secretary.pk != member.pk:
            return organization.secretary
    return None

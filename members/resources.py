"""The member roster as an Excel (.xlsx) or CSV file (django-import-export), for the roster admin.

The file format is fixed, whatever the interface language: Chinese headers (COLUMNS) and Chinese values (男/女,
在册/免除, 周一上午 …), so a file moves between secretaries unchanged. Import and export use the same columns, so an
exported file, emptied and filled with new rows, is the template for an import.

Import registers NEW members, all or nothing:
- `before_import` reads the whole file once: it resolves every branch by name among the organizations in the
  importing user's scope (`selectors.visible_organizations` — a branch outside it is "not found", exactly like one
  that does not exist), and hands the rows to `validators.check_new_members`, the rules of `member_create` applied in
  bulk (phone normalised and unique by its blind index against the database and within the file, home organization
  a 党支部, tags). Each row's problems become plain Chinese messages "第3行：…", where 3 is the row number Excel
  shows (line 1 holds the headers).
- The preview (dry run) writes nothing. The confirmation reads the file again and repeats every check inside one
  transaction; `bulk_create` then calls `services.members_import` once for all rows — which checks again under its
  lock and writes in bulk — and only when no row is invalid. A row with a volunteer number is an error: the platform
  allocates numbers, and a member already on the roster is changed in the roster, not re-imported.

Export: the members the user may see (`selectors.visible_members`, whatever queryset the caller passes), with their
tags prefetched. Phone numbers leave in full only in a platform admin's file; a secretary's file has them masked
(138****1234). A roster file is a secretary's working list, but it travels — by e-mail, chat and USB stick — far
beyond the admin's access control, and the platform itself is how a secretary reaches members (invitations,
notifications); the full number of one member remains on that member's page in the admin. Members edit their own
names, so no cell may run as a formula (`core.exports`): the .xlsx file holds such text as text cells (RosterXLSX),
the CSV file puts an apostrophe before it (RosterCSV), and the import takes that apostrophe away again.
"""

import re
from collections import defaultdict
from functools import cache

import tablib
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from import_export import fields, resources
from import_export.formats.base_formats import CSV, XLSX

from core.exports import inert, uninert, xlsx_table

from . import selectors, services, validators
from .availability import SLOT_CHOICES, SLOTS, from_mask
from .models import Member, Organization

# Column headers, in file order: part of the file format, so not translated.
VOLUNTEER_NUMBER = "志愿者编号"
NAME = "姓名"
GENDER = "性别"
BIRTH_YEAR = "出生年份"
PHONE = "手机号"
BRANCH = "所在支部"
SKILLS = "特长"
INTERESTS = "兴趣"
AVAILABILITY = "可服务时段"
STATUS = "状态"
COLUMNS = (VOLUNTEER_NUMBER, NAME, GENDER, BIRTH_YEAR, PHONE, BRANCH, SKILLS, INTERESTS, AVAILABILITY, STATUS)
REQUIRED_COLUMNS = (NAME, PHONE, BRANCH)
# Other spellings found in real rosters, read as the column they mean.
HEADER_ALIASES = {"手机号码": PHONE, "手机": PHONE, "所在党支部": BRANCH, "支部": BRANCH, "编号": VOLUNTEER_NUMBER}
# NewMember field → column, for messages in column order.
FIELD_COLUMNS = {
    "volunteer_number": VOLUNTEER_NUMBER,
    "name": NAME,
    "gender": GENDER,
    "birth_year": BIRTH_YEAR,
    "phone": PHONE,
    "organization": BRANCH,
    "skills": SKILLS,
    "interests": INTERESTS,
    "availability": AVAILABILITY,
    "status": STATUS,
}

MAX_ROWS = 10_000
FILE_LANGUAGE = "zh-hans"  # the language of the values in a file (labels of gender, status, time slots)
_LIST_SEPARATORS = re.compile(r"[、,，;；/\n]+")
_PATH_SEPARATORS = re.compile(r"\s*[/／]\s*")
# Column widths of the .xlsx file, in COLUMNS order (Excel's units: about one Latin character; a Chinese one is two).
_WIDTHS = (14, 12, 6, 10, 14, 24, 20, 20, 30, 8)


class RosterFileError(Exception):
    """A problem with the file as a whole (missing columns, too many rows); its text is shown as it is."""


class RosterCSV(CSV):
    """CSV read as bytes: UTF-8 (with or without a BOM), else GB18030 — Excel on Chinese Windows saves CSV in GBK.
    Written as UTF-8 with a BOM, which Excel needs to show Chinese text."""

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            try:
                in_stream = in_stream.decode("utf-8-sig")
            except UnicodeDecodeError:
                in_stream = in_stream.decode("gb18030")
        return tablib.import_set(in_stream, format="csv", **kwargs)

    def export_data(self, dataset, **kwargs):
        guarded = tablib.Dataset(*([inert(value) for value in row] for row in dataset), headers=dataset.headers)
        return super().export_data(guarded, **kwargs).encode("utf-8-sig")

    def get_content_type(self):
        return "text/csv; charset=utf-8"


class RosterXLSX(XLSX):
    """The .xlsx file written by `core.exports.xlsx_table` (bold headers kept in view, every text cell a text cell):
    tablib's own writer stores any text starting with "=" as a formula. Read as django-import-export reads .xlsx."""

    def export_data(self, dataset, **kwargs):
        return xlsx_table(title=MemberResource._meta.name, header=dataset.headers, rows=dataset, widths=_WIDTHS)


def _text(value) -> str:
    """A cell as trimmed text: 13800138000.0 (a number cell) → "13800138000", None → ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return uninert(str(value).strip()).strip()  # without our own CSV export's formula guard


@cache
def _file_labels() -> dict[str, dict[str, str]]:
    """Value → label of the choices a file spells out (gender, status, time slot), in the file's language; built
    once, as switching the language for every cell would cost more than the rest of a row."""
    with translation.override(FILE_LANGUAGE):
        return {
            "gender": {value: str(label) for value, label in Member.Gender.choices},
            "status": {value: str(label) for value, label in Member.Status.choices},
            "slot": {slot: str(label) for slot, label in SLOT_CHOICES},
        }


def _values(kind: str) -> dict[str, str]:
    """Label → value (and value → value) of one kind of `_file_labels`, for reading a file."""
    labels = _file_labels()[kind]
    return {label: value for value, label in labels.items()} | {value: value for value in labels}


class MemberResource(resources.ModelResource):
    """Roster rows ↔ members. Construct with `user=`: it decides the branches an import may use and the members an
    export contains (none without a user)."""

    volunteer_number = fields.Field(column_name=VOLUNTEER_NUMBER)
    name = fields.Field(column_name=NAME)
    gender = fields.Field(column_name=GENDER)
    birth_year = fields.Field(column_name=BIRTH_YEAR)
    phone = fields.Field(column_name=PHONE)
    organization = fields.Field(column_name=BRANCH)
    skills = fields.Field(column_name=SKILLS)
    interests = fields.Field(column_name=INTERESTS)
    availability = fields.Field(column_name=AVAILABILITY)
    status = fields.Field(column_name=STATUS)

    class Meta:
        model = Member
        name = "党员名册"
        fields = (
            "volunteer_number",
            "name",
            "gender",
            "birth_year",
            "phone",
            "organization",
            "skills",
            "interests",
            "availability",
            "status",
        )
        import_order = export_order = fields
        # Rows are validated one by one but written together by services.members_import (bulk_create below);
        # batch_size None: one write at the end, after every row has been checked.
        use_bulk = True
        batch_size = None
        use_transactions = True
        force_init_instance = True  # import only creates
        skip_diff = True
        report_skipped = False
        store_instance = True  # after_import_row reads the row's instance for the preview

    def __init__(self, *, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        self.full_phones = bool(user is not None and user.is_active and user.is_superuser)
        self._rows: dict[int, tuple[validators.NewMember | None, dict[str, list[str]]]] = {}

    # --- Import -------------------------------------------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        self._rows = {}
        dataset.headers = [HEADER_ALIASES.get(_text(h), _text(h)) for h in dataset.headers or []]
        missing = [column for column in REQUIRED_COLUMNS if column not in dataset.headers]
        if missing:
            raise RosterFileError(
                _("文件缺少必需的列：%(columns)s。第1行应是表头：%(all)s。")
                % {"columns": "、".join(missing), "all": "、".join(COLUMNS)}
            )
        if len(dataset) > MAX_ROWS:
            raise RosterFileError(
                _("文件有%(count)d行，一次最多导入%(max)d行，请分成几个文件。")
                % {"count": len(dataset), "max": MAX_ROWS}
            )
        rows = {
            number: dict(zip(dataset.headers, (_text(v) for v in values), strict=False))
            for number, values in enumerate(dataset, 1)
        }
        rows = {number: row for number, row in rows.items() if any(row.values())}  # blank lines are skipped
        parser = _RowParser(self.user, numbers={row.get(VOLUNTEER_NUMBER, "").upper() for row in rows.values()})
        parsed = {number: parser.parse(row) for number, row in rows.items()}
        problems = validators.check_new_members(
            [new for new, _errors in parsed.values()], row_numbers=[number + 1 for number in parsed]
        )
        for (number, (new, errors)), found in zip(parsed.items(), problems, strict=True):
            for field, messages in found.items():
                if field not in errors:  # the parser's message about a cell says more (e.g. which branch)
                    errors[field] = messages
            self._rows[number] = (new, errors)

    def import_instance(self, instance, row, **kwargs):
        number = kwargs["row_number"]
        if number not in self._rows:  # a blank line, or the whole file was refused (before_import)
            instance._roster_skip = True
            return
        new, errors = self._rows[number]
        if errors:
            prefix = _("第%(row)s行：") % {"row": number + 1}
            ordered = sorted(errors.items(), key=lambda item: list(FIELD_COLUMNS).index(item[0]))
            raise ValidationError(
                {FIELD_COLUMNS[field]: [prefix + message for message in messages] for field, messages in ordered}
            )
        instance.name = new.name.strip()
        instance.gender = new.gender
        instance.birth_year = new.birth_year
        instance.organization = new.organization
        instance.availability = new.availability
        instance.status = new.status
        instance.set_phone(new.phone)
        instance._roster_new = new
        instance._roster_line = number + 1

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return getattr(instance, "_roster_skip", False)

    def after_import_row(self, row, row_result, **kwargs):
        instance = row_result.instance
        if instance is None or not kwargs.get("dry_run"):  # only the preview page shows rows
            return
        new = getattr(instance, "_roster_new", None)
        if new is not None:
            row_result.line = instance._roster_line
            row_result.preview = self._preview(instance, new)

    def _preview(self, member: Member, new: validators.NewMember) -> list:
        """What the confirmation page shows for a good row, in column order (the phone masked, as in every list)."""
        assigned_later = _("（导入后分配）")
        return [
            assigned_later,
            member.name,
            self.dehydrate_gender(member),
            member.birth_year or "",
            member.phone_masked,
            member.organization.name,
            "、".join(new.skills),
            "、".join(new.interests),
            self.dehydrate_availability(member),
            self.dehydrate_status(member),
        ]

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        """Write every row with one call of `services.members_import` — on confirmation only, and only when no row
        of the file is invalid (nothing is saved while any row is)."""
        instances, self.create_instances = self.create_instances, []
        if dry_run or not instances or result is None or result.has_errors() or result.has_validation_errors():
            return
        try:
            created = services.members_import(
                rows=[instance._roster_new for instance in instances],
                row_numbers=[instance._roster_line for instance in instances],
                actor=self.user,
                reason=_("导入名册"),
            )
        except ValidationError as exc:
            self.handle_import_error(result, RosterFileError("；".join(exc.messages)), raise_errors)
            return
        for instance, member in zip(instances, created, strict=True):
            for field in Member._meta.concrete_fields:
                setattr(instance, field.attname, getattr(member, field.attname))
            instance._state.adding = False

    def after_import(self, dataset, result, **kwargs):
        """Nothing: the default resets the table's id sequence, which matters only when a file carries ids."""

    # --- Export -------------------------------------------------------------------------------------------------

    def get_queryset(self):
        return selectors.visible_members(self.user).order_by("volunteer_number")

    def filter_export(self, queryset, **kwargs):
        # Whatever queryset the caller passes, only members in the user's scope leave in the file.
        return (
            selectors.visible_members(self.user, queryset=queryset)
            .select_related("organization__parent")
            .prefetch_related("skills", "interests")
        )

    def before_export(self, queryset, **kwargs):
        # A branch name used twice in the user's scope is written "上级组织/支部", which the import reads back.
        branches = selectors.visible_organizations(self.user).filter(type=Organization.Type.BRANCH)
        names = defaultdict(int)
        for name in branches.values_list("name", flat=True):
            names[name] += 1
        self._repeated_names = {name for name, count in names.items() if count > 1}

    def dehydrate_volunteer_number(self, member):
        return member.volunteer_number

    def dehydrate_name(self, member):
        return member.name

    def dehydrate_gender(self, member):
        return _file_labels()["gender"].get(member.gender, "")

    def dehydrate_birth_year(self, member):
        return member.birth_year or ""

    def dehydrate_phone(self, member):
        return member.phone if self.full_phones else member.phone_masked

    def dehydrate_organization(self, member):
        branch = member.organization
        if branch.name in getattr(self, "_repeated_names", ()) and branch.parent is not None:
            return f"{branch.parent.name}/{branch.name}"
        return branch.name

    def dehydrate_skills(self, member):
        return "、".join(tag.name for tag in member.skills.all())

    def dehydrate_interests(self, member):
        return "、".join(tag.name for tag in member.interests.all())

    def dehydrate_availability(self, member):
        labels = _file_labels()["slot"]
        return "、".join(labels[slot] for slot in from_mask(member.availability))

    def dehydrate_status(self, member):
        return _file_labels()["status"][member.status]


class _RowParser:
    """Cells of one row → a `validators.NewMember` and the problems only the file can explain, keyed by field.

    Built once per file: the branches and the volunteer numbers of the user's scope are read here (three queries),
    never per row.
    """

    def __init__(self, user, *, numbers: set[str]):
        self.by_name: dict[str, list[Organization]] = defaultdict(list)
        self.by_path: dict[str, Organization] = {}
        for organization in selectors.visible_organizations(user).select_related("parent"):
            self.by_name[organization.name].append(organization)
            if organization.parent is not None:
                self.by_path[f"{organization.parent.name}/{organization.name}"] = organization
        numbers.discard("")
        self.on_roster = dict(
            selectors.visible_members(user).filter(volunteer_number__in=numbers).values_list("volunteer_number", "name")
        )
        self.genders = _values("gender")
        self.statuses = _values("status")
        self.slots = _values("slot")

    def parse(self, row: dict[str, str]) -> tuple[validators.NewMember, dict[str, list[str]]]:
        errors: dict[str, list[str]] = {}

        def problem(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        number = row.get(VOLUNTEER_NUMBER, "").upper()
        if number in self.on_roster:
            problem(
                "volunteer_number",
                _("志愿者编号%(number)s已在名册中（%(name)s）。导入只登记新党员，修改请在名册中进行。")
                % {"number": number, "name": self.on_roster[number]},
            )
        elif number:
            problem("volunteer_number", _("志愿者编号由平台分配，登记新党员时请留空。"))

        gender = row.get(GENDER, "")
        if gender and gender not in self.genders:
            problem("gender", _("性别“%(value)s”无法识别，请填写“男”或“女”。") % {"value": gender})

        birth_year = self._birth_year(row.get(BIRTH_YEAR, ""))
        if birth_year == -1:
            problem(
                "birth_year", _("出生年份“%(value)s”不正确，请填写四位数年份，如1965。") % {"value": row[BIRTH_YEAR]}
            )
            birth_year = None

        status = row.get(STATUS, "") or Member.Status.ACTIVE
        if status not in self.statuses:
            problem("status", _("状态“%(value)s”无法识别，请填写“在册”或“免除”。") % {"value": status})

        availability = 0
        for label in _LIST_SEPARATORS.split(row.get(AVAILABILITY, "")):
            label = label.strip()
            if not label:
                continue
            if label in self.slots:
                availability |= 1 << SLOTS.index(self.slots[label])
            else:
                problem(
                    "availability",
                    _("可服务时段“%(value)s”无法识别，请写成“周一上午、周三晚上”这样的形式。") % {"value": label},
                )

        organization = self._branch(row.get(BRANCH, ""), problem)
        new = validators.NewMember(
            name=row.get(NAME, ""),
            phone=row.get(PHONE, ""),
            organization=organization,
            gender=self.genders.get(gender, ""),
            birth_year=birth_year,
            skills=self._names(row.get(SKILLS, "")),
            interests=self._names(row.get(INTERESTS, "")),
            availability=availability,
            status=self.statuses.get(status, Member.Status.ACTIVE),
        )
        return new, errors

    @staticmethod
    def _names(cell: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name.strip() for name in _LIST_SEPARATORS.split(cell) if name.strip()))

    @staticmethod
    def _birth_year(cell: str) -> int | None:
        """The year, None when blank, -1 when unreadable ("1965" and "1965年" are read)."""
        text = cell.removesuffix("年").strip()
        if not text:
            return None
        return int(text) if text.isdigit() and len(text) == 4 else -1

    def _branch(self, cell: str, problem) -> Organization | None:
        if not cell:
            return None  # validators.check_new_members asks for it
        path = _PATH_SEPARATORS.split(cell)
        if len(path) > 1:
            found = self.by_path.get("/".join(path[-2:]))
            candidates = [found] if found else []
        else:
            candidates = self.by_name.get(cell, [])
        if not candidates:
            problem("organization", _("找不到党支部“%(name)s”，或它不在您管理的范围内。") % {"name": cell})
            return None
        if len(candidates) > 1:
            example = next(f"{o.parent.name}/{o.name}" for o in candidates if o.parent is not None)
            problem(
                "organization",
                _("有多个党支部名为“%(name)s”，请写成“上级组织/支部名称”，如“%(example)s”。")
                % {"name": cell, "example": example},
            )
            return None
        return candidates[0]

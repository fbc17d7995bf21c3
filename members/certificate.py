"""志愿服务记录证明: the PDF certificate of a member's verified service (条例 §19: free and truthful).

`certificate_for` gathers what a certificate states (reads through `members.selectors`); `render_pdf` lays it out
with reportlab. Chinese text uses Noto Sans SC (members/fonts, OFL), embedded as a subset with a ToUnicode map, so
the PDF looks the same on any reader and its text can be searched and copied.
"""

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from . import selectors
from .models import Member, ServiceRecord

FONT_NAME = "NotoSansSC"
FONT_PATH = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-Regular.ttf"
PAGE_MARGIN = 20 * mm
SEAL_SIZE = 42 * mm


@dataclass(frozen=True)
class CertificateLine:
    date: date
    content: str
    place: str
    hours: Decimal
    organization: str


@dataclass(frozen=True)
class Certificate:
    number: str
    member_name: str
    volunteer_number: str
    organization: str  # the issuing organization: the member's home branch
    person_in_charge: str  # its secretary
    handler: str  # who issued this copy: the secretary who printed it, or for the member's own, their organization
    contact: str
    issued_on: date
    total_hours: Decimal
    lines: tuple[CertificateLine, ...]
    stars: int | None = None  # current star rating, when the site provides one
    national_volunteer_number: str = ""  # the national system's 志愿者统一编号, when the member has one


def format_hours(hours: Decimal) -> str:
    """12.50 → "12.5", 3.00 → "3": hours as a person writes them."""
    return f"{hours:.2f}".rstrip("0").rstrip(".")


def person_name(user) -> str:
    """How a signed-in person is named on a certificate: their member name, else their account's name."""
    member = selectors.member_for(user)
    if member is not None:
        return member.name
    return user.get_full_name() or user.get_username()


def handler_name(member: Member, handler) -> str:
    """The 经办人 of a copy printed by `handler` (a user). A member downloading their own is not their own handler:
    the copy is issued by their organization, so it names the organization and its secretary."""
    if handler.pk != member.user_id:
        return person_name(handler)
    organization = member.organization
    secretary = organization.secretary
    return f"{organization.name} {secretary.name}" if secretary else organization.name


def certificate_for(member: Member, *, handler, stars: int | None = None, issued_on: date | None = None) -> Certificate:
    """What a certificate for `member`, issued today by `handler` (a user), states; `stars`: the member's current
    stars (the latest final rating's, from the incentives app: the site's view passes them), None to leave them out.
    The 经办人 is `handler_name`'s.

    The number is ZYFW-<year>-<volunteer number>-<8 hex digits of a hash of the content>: two certificates differ in
    number whenever they differ in content, and the same content issued on the same day keeps its number.
    """
    issued_on = issued_on or timezone.localdate()
    organization = member.organization
    records = list(selectors.certificate_records(member))
    secretary = organization.secretary
    contact = " ".join(part for part in (organization.contact_name, organization.contact_phone) if part)
    handled_by = handler_name(member, handler)
    fingerprint = "|".join(
        [
            member.volunteer_number,
            issued_on.isoformat(),
            str(organization.pk),
            handled_by,
            *(f"{r.pk}:{r.hours}:{r.status}:{r.updated_at.isoformat()}" for r in records),
        ]
    )
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:8].upper()
    return Certificate(
        number=f"ZYFW-{issued_on.year}-{member.volunteer_number}-{digest}",
        member_name=member.name,
        volunteer_number=member.volunteer_number,
        organization=organization.name,
        person_in_charge=secretary.name if secretary else "",
        handler=handled_by,
        contact=contact,
        issued_on=issued_on,
        total_hours=sum((r.hours for r in records), Decimal("0")),
        stars=stars,
        national_volunteer_number=member.national_volunteer_number,
        lines=tuple(
            CertificateLine(
                date=r.date,
                content=r.content,
                place=r.place,
                hours=r.hours,
                # A record from elsewhere names where it was kept (谁记录谁证明), not the organization that imported it.
                organization=_("%(origin)s（其他平台记录）") % {"origin": r.origin}
                if r.source == ServiceRecord.Source.EXTERNAL
                else r.recording_organization.name,
            )
            for r in records
        ),
    )


def content_disposition(certificate: Certificate) -> str:
    """attachment with an ASCII filename for old clients and the Chinese one (RFC 5987) for the others."""
    ascii_name = f"service-certificate-{certificate.volunteer_number}.pdf"
    utf8_name = _("志愿服务记录证明-%(name)s-%(number)s.pdf") % {
        "name": certificate.member_name,
        "number": certificate.volunteer_number,
    }
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name, safe='')}"


@cache
def register_font() -> str:
    """The embedded CJK font's name for reportlab (the certificate's and the site's reports'), registered once."""
    # Parsing the 10 MB font takes a moment: once per process. reportlab embeds only the glyphs used.
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_PATH)))
    return FONT_NAME


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font, fontSize=11, leading=19, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=22, leading=30, alignment=TA_CENTER, spaceAfter=4),
        "number": ParagraphStyle("number", parent=base, fontSize=9, leading=14, alignment=TA_RIGHT),
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=13),
        "head": ParagraphStyle("head", parent=base, fontSize=9, leading=13, alignment=TA_CENTER),
        "note": ParagraphStyle("note", parent=base, fontSize=9, leading=14, textColor=colors.HexColor("#444444")),
        "seal": ParagraphStyle("seal", parent=base, alignment=TA_CENTER, textColor=colors.HexColor("#888888")),
    }


def _p(text, style) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _date(value: date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def _records_table(certificate: Certificate, styles) -> Table:
    head = [
        _p(_("服务日期"), styles["head"]),
        _p(_("服务内容"), styles["head"]),
        _p(_("服务地点"), styles["head"]),
        _p(_("时长（小时）"), styles["head"]),
        _p(_("记录组织"), styles["head"]),
    ]
    rows = [
        [
            _p(line.date.isoformat(), styles["cell"]),
            _p(line.content, styles["cell"]),
            _p(line.place, styles["cell"]),
            _p(format_hours(line.hours), styles["head"]),
            _p(line.organization, styles["cell"]),
        ]
        for line in certificate.lines
    ]
    total = [_p(_("合计"), styles["head"]), "", "", _p(format_hours(certificate.total_hours), styles["head"]), ""]
    table = Table(
        [head, *rows, total],
        colWidths=[24 * mm, 58 * mm, 34 * mm, 20 * mm, 34 * mm],
        repeatRows=1,
    )
    last = len(rows) + 1
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#666666")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2e6e6")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("SPAN", (0, last), (2, last)),
            ]
        )
    )
    return table


def _signature_block(certificate: Certificate, styles) -> Table:
    lines = [
        _p(_("出具组织：%(org)s") % {"org": certificate.organization}, styles["body"]),
        _p(_("负责人：%(name)s") % {"name": certificate.person_in_charge or "—"}, styles["body"]),
        _p(_("经办人：%(name)s") % {"name": certificate.handler}, styles["body"]),
        _p(_("联系方式：%(contact)s") % {"contact": certificate.contact or "—"}, styles["body"]),
        _p(_("出具日期：%(date)s") % {"date": _date(certificate.issued_on)}, styles["body"]),
    ]
    seal = Table([[_p(_("（盖章）"), styles["seal"])]], colWidths=[SEAL_SIZE], rowHeights=[SEAL_SIZE])
    seal.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.8, colors.HexColor("#999999"), None, (3, 3)),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    block = Table([[lines, seal]], colWidths=[170 * mm - SEAL_SIZE - 8 * mm, SEAL_SIZE + 8 * mm])
    block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (1, 0), (1, 0), "RIGHT")]))
    return block


def render_pdf(certificate: Certificate) -> bytes:
    """The certificate as A4 PDF bytes: title and number, statement, table of services with the total, the
    free-of-charge note, issuer, person in charge, handler, contact, date and a box for the seal."""
    font = register_font()
    styles = _styles(font)
    buffer = BytesIO()
    title = _("志愿服务记录证明")
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=PAGE_MARGIN,
        rightMargin=PAGE_MARGIN,
        topMargin=PAGE_MARGIN,
        bottomMargin=PAGE_MARGIN,
        title=title,
        author=certificate.organization,
        subject=f"{certificate.member_name} {certificate.volunteer_number}",
        creator=_("党员志愿服务平台"),
    )
    hours = format_hours(certificate.total_hours)
    if certificate.lines:
        statement = _(
            "兹证明 %(name)s（志愿者编号：%(number)s）为%(org)s党员志愿者。截至%(date)s，"
            "经记录组织确认的志愿服务共 %(count)s 次，累计服务时长 %(hours)s 小时，明细如下："
        )
    else:
        statement = _(
            "兹证明 %(name)s（志愿者编号：%(number)s）为%(org)s党员志愿者。截至%(date)s，"
            "尚无经记录组织确认的志愿服务记录，累计服务时长 %(hours)s 小时。"
        )
    statement %= {
        "name": certificate.member_name,
        "number": certificate.volunteer_number,
        "org": certificate.organization,
        "date": _date(certificate.issued_on),
        "count": len(certificate.lines),
        "hours": hours,
    }
    story = [
        _p(title, styles["title"]),
        _p(_("证明编号：%(number)s") % {"number": certificate.number}, styles["number"]),
        *(
            [
                _p(
                    _("全国志愿者统一编号：%(number)s") % {"number": certificate.national_volunteer_number},
                    styles["number"],
                )
            ]
            if certificate.national_volunteer_number
            else []
        ),
        Spacer(1, 6 * mm),
        _p(statement, styles["body"]),
        Spacer(1, 4 * mm),
    ]
    if certificate.stars:
        story += [
            _p(
                _("星级评定：%(stars)s（%(count)s星）")
                % {"stars": "★" * certificate.stars, "count": certificate.stars},
                styles["body"],
            ),
            Spacer(1, 4 * mm),
        ]
    if certificate.lines:
        story += [_records_table(certificate, styles), Spacer(1, 4 * mm)]
    story += [
        _p(
            _(
                "服务时长为实际服务时间，不含往返路途时间。本证明依据《志愿服务条例》第十九条，"
                "根据志愿服务记录如实出具，不收取任何费用。"
            ),
            styles["note"],
        ),
        Spacer(1, 10 * mm),
        KeepTogether([_signature_block(certificate, styles)]),
    ]

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillColor(colors.HexColor("#777777"))
        canvas.drawString(
            PAGE_MARGIN,
            10 * mm,
            _("证明编号：%(number)s　第 %(page)s 页") % {"number": certificate.number, "page": document.page},
        )
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()

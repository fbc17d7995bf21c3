"""The quarterly and annual reports (上报报告) of an organization's subtree, as a Word document and a PDF.

`content` gathers what a report states — through `selectors.report_figures`, i.e. the dashboard's own selectors for
the period and for the period before, never figures of its own — into plain sections of text; `render_docx`
(python-docx) and `render_pdf` (reportlab) lay the same sections out. Charts are charts.py's bar geometry, drawn as
vector graphics in the PDF and as a PNG (Pillow) in the Word document. Chinese renders in the PDF through the
embedded Noto Sans SC (members/fonts); the Word document names East Asian fonts (宋体/黑体) on its styles, which
every Chinese Windows, macOS and WPS has. Every time shown is local (Asia/Shanghai).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from io import BytesIO

from django.utils import timezone
from django.utils.translation import gettext as _
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from PIL import Image, ImageDraw, ImageFont
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.times import format_local
from members.certificate import FONT_PATH, register_font

from . import selectors
from .charts import Chart, stars_chart, trend_chart
from .exports import period_figure_rows, star_rows
from .models import Report

DASH = "—"
BAR_COLOURS = {"bar-hours": "#c0392b", "bar-stars": "#d4a017"}
DOCX_BODY_FONT = "宋体"
DOCX_HEADING_FONT = "黑体"


@dataclass
class Section:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""
    chart: Chart | None = None


@dataclass
class ReportContent:
    title: str
    facts: list[tuple[str, str]]  # (label, text) under the title: organization, periods, when it was generated
    sections: list[Section] = field(default_factory=list)


@dataclass(frozen=True)
class Built:
    docx: bytes
    pdf: bytes


# --- What a report says --------------------------------------------------------------------------------------------


def text(value: object) -> str:
    """A figure as the report prints it: None as "—", numbers as the selectors give them (already rounded)."""
    if value is None:
        return DASH
    return str(value)


def change(current: object, previous: object) -> str:
    """The difference to the period before, signed (+3, -1.50, 0); "—" where either side is not a number."""
    numbers = (int, Decimal)
    if not isinstance(current, numbers) or not isinstance(previous, numbers):
        return DASH
    if isinstance(current, bool) or isinstance(previous, bool):
        return DASH
    difference = Decimal(current) - Decimal(previous)
    if isinstance(current, Decimal) and isinstance(previous, Decimal):
        places = min(current.as_tuple().exponent, previous.as_tuple().exponent)
        difference = difference.quantize(Decimal(1).scaleb(places))  # type: ignore[arg-type]
    if difference > 0:
        return f"+{difference}"
    return str(difference)


def comparison_rows(now: selectors.ReportFigures, before: selectors.ReportFigures) -> list[tuple[str, object, object]]:
    """(label, this period, the period before) of every figure the report compares: the dashboard's period figures
    (exports.period_figure_rows, the figure export's rows) and the projects, activities and commendations."""
    rows = [
        (label, value, previous)
        for (label, value), (_label, previous) in zip(
            period_figure_rows(now.dashboard), period_figure_rows(before.dashboard), strict=True
        )
    ]
    rows += [
        (_("开展服务项目"), now.projects_run, before.projects_run),
        (_("举办服务活动"), now.activities_held, before.activities_held),
        (_("获得表彰（人次）"), len(now.commendations), len(before.commendations)),
    ]
    return rows


def _period_text(period: selectors.Period) -> str:
    return _("%(start)s 至 %(end)s") % {"start": period.start.isoformat(), "end": period.end.isoformat()}


def content(report: Report, today: date | None = None) -> ReportContent:
    """Everything the report states, from the selectors of the dashboard, in the language active now."""
    today = today or timezone.localdate()
    organization = report.organization
    period = selectors.report_period(report.kind, report.year, report.quarter)
    previous = selectors.previous_report_period(report.kind, report.year, report.quarter)
    now = selectors.report_figures(organization, period, today)
    before = selectors.report_figures(organization, previous, today)
    d = now.dashboard
    title = _("%(organization)s%(period)s党员志愿服务工作报告") % {
        "organization": organization.name,
        "period": report.period_label,
    }
    facts = [
        (_("党组织"), organization.name),
        (_("统计期间"), _period_text(period)),
        (_("对比期间"), _period_text(previous)),
        (_("生成时间"), format_local(timezone.now())),
    ]
    if period.end >= today:
        facts.append((_("说明"), _("统计期间尚未结束，数据截至生成时。")))
    result = ReportContent(title=title, facts=facts)

    result.sections.append(
        Section(
            title=_("一、主要指标（与上期对比）"),
            header=[_("指标"), _("本期"), _("上期"), _("增减")],
            rows=[
                [label, text(value), text(old), change(value, old)]
                for label, value, old in comparison_rows(now, before)
            ],
            note=_("数字与工作台同一党组织、同一期间的数字一致；培训学时按统计期间结束所在年度统计。"),
        )
    )

    hours_chart = trend_chart(d.trend)["hours"]
    result.sections.append(
        Section(
            title=_("二、服务时长按月"),
            header=[_("月份"), _("服务时长（小时）"), _("辖区收到微心愿"), _("辖区实现微心愿")],
            rows=[[m.label, text(m.hours), text(m.wishes_received), text(m.wishes_fulfilled)] for m in d.trend],
            chart=hours_chart,
        )
    )

    training = d.training
    training_rows = [[t.label, text(t.hours), text(t.completed), text(t.rate)] for t in training.by_type]
    training_rows.append(
        [_("合计（全年学时要求）"), text(training.hours), text(training.completed), text(training.rate)]
    )
    result.sections.append(
        Section(
            title=_("三、培训完成情况（按类型，%(year)s年度）") % {"year": training.year},
            header=[_("培训类型"), _("培训学时"), _("达标人数"), _("达标率（%）")],
            rows=training_rows,
            note=_("考核人数 %(measured)s 人（所在组织有年度学时要求的在册党员）。") % {"measured": training.measured},
        )
    )

    result.sections.append(
        Section(
            title=_("四、星级分布（截至生成时）"),
            header=[_("星级"), _("人数")],
            rows=[[label, text(n)] for label, n in star_rows(d)],
            chart=stars_chart(d.stars),
        )
    )

    result.sections.append(
        Section(
            title=_("五、下级组织情况"),
            header=[
                _("党组织"),
                _("在册党员"),
                _("参与率（%）"),
                _("服务时长（小时）"),
                _("人均服务时长（小时）"),
                _("党员实现微心愿"),
            ],
            rows=[
                [
                    _("%(name)s（本级）") % {"name": row.organization.name} if row.own else row.organization.name,
                    text(row.members),
                    text(row.participation_rate),
                    text(row.hours),
                    text(row.hours_per_member),
                    text(row.wishes_fulfilled),
                ]
                for row in d.league
            ],
        )
    )

    result.sections.append(
        Section(
            title=_("六、表彰先进"),
            header=[_("姓名"), _("所在支部"), _("表彰名称"), _("表彰日期")],
            rows=[
                [c.member.name, c.member.organization.name, c.title, c.awarded_on.isoformat()]
                for c in now.commendations
            ],
            note="" if now.commendations else _("本期无。"),
        )
    )

    plan_rows = []
    for progress in now.plans:
        for target in progress.targets:
            plan_rows.append(
                [
                    progress.plan.title,
                    str(target.target.get_metric_display()),
                    text(target.target.value),
                    text(target.actual),
                    f"{target.percent}%",
                ]
            )
    result.sections.append(
        Section(
            title=_("七、年度规划进展（截至统计期间结束）"),
            header=[_("年度规划"), _("指标"), _("目标值"), _("完成值"), _("完成比例")],
            rows=plan_rows,
            note="" if plan_rows else _("本年度未制定规划。"),
        )
    )
    return result


def build(report: Report, today: date | None = None) -> Built:
    doc = content(report, today)
    return Built(docx=render_docx(doc), pdf=render_pdf(doc))


# --- Charts ------------------------------------------------------------------------------------------------------


def chart_drawing(chart: Chart, font: str, scale: float = 0.75) -> Drawing:
    """charts.py's geometry (SVG coordinates: y down) as a reportlab drawing (y up), with values and labels."""
    drawing = Drawing(chart.width * scale, chart.height * scale)

    def y(value: float) -> float:
        return (chart.height - value) * scale

    drawing.add(Line(30 * scale, y(chart.baseline), chart.width * scale, y(chart.baseline), strokeColor=colors.grey))
    for bar in chart.bars:
        fill = colors.HexColor(BAR_COLOURS.get(bar.css, "#c0392b"))
        drawing.add(
            Rect(
                bar.x * scale,
                y(bar.y + bar.height),
                bar.width * scale,
                bar.height * scale,
                fillColor=fill,
                strokeWidth=0,
            )
        )
        drawing.add(
            String(
                (bar.x + bar.width / 2) * scale,
                y(bar.y) + 2,
                text(bar.value),
                fontName=font,
                fontSize=7,
                textAnchor="middle",
            )
        )
    for x, label in chart.labels:
        drawing.add(String(x * scale, y(chart.baseline) - 11, label, fontName=font, fontSize=8, textAnchor="middle"))
    return drawing


@cache
def _png_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)  # the 10 MB font: read once per process and size


def chart_png(chart: Chart, scale: int = 2) -> bytes:
    """The same chart as a PNG for the Word document (python-docx embeds pictures, not vector drawings)."""
    image = Image.new("RGB", (chart.width * scale, chart.height * scale), "white")
    draw = ImageDraw.Draw(image)
    small = _png_font(10 * scale)
    base = chart.baseline * scale
    draw.line([(30 * scale, base), (chart.width * scale, base)], fill="#888888", width=scale)
    for bar in chart.bars:
        x0, y0 = bar.x * scale, bar.y * scale
        x1, y1 = (bar.x + bar.width) * scale, (bar.y + bar.height) * scale
        if bar.height > 0:
            draw.rectangle([x0, y0, x1, y1], fill=BAR_COLOURS.get(bar.css, "#c0392b"))
        draw.text(((x0 + x1) / 2, y0 - 2), text(bar.value), fill="black", font=small, anchor="mb")
    for x, label in chart.labels:
        draw.text((x * scale, base + 4 * scale), label, fill="black", font=small, anchor="mt")
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- Word ----------------------------------------------------------------------------------------------------------


def _east_asian(style, font: str) -> None:
    """Name `font` for East Asian text on a python-docx style (w:rFonts w:eastAsia): Word takes the Latin font for
    Chinese otherwise."""
    style.font.name = font
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), font)


def render_docx(doc: ReportContent) -> bytes:
    document = Document()
    _east_asian(document.styles["Normal"], DOCX_BODY_FONT)
    document.styles["Normal"].font.size = Pt(10.5)
    for name in ("Title", "Heading 1", "Heading 2"):
        _east_asian(document.styles[name], DOCX_HEADING_FONT)
    for section in document.sections:
        section.left_margin = section.right_margin = Cm(2.2)
    heading = document.add_heading(doc.title, level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for label, value in doc.facts:
        document.add_paragraph(f"{label}：{value}")
    for part in doc.sections:
        document.add_heading(part.title, level=1)
        if part.chart is not None:
            document.add_picture(BytesIO(chart_png(part.chart)), width=Cm(15))
        if part.rows:
            table = document.add_table(rows=1, cols=len(part.header))
            table.style = "Table Grid"
            for cell, title in zip(table.rows[0].cells, part.header, strict=True):
                cell.text = title
                for run in cell.paragraphs[0].runs:
                    run.bold = True
            for row in part.rows:
                for cell, value in zip(table.add_row().cells, row, strict=True):
                    cell.text = value
        if part.note:
            document.add_paragraph(part.note)
    out = BytesIO()
    document.save(out)
    return out.getvalue()


# --- PDF -----------------------------------------------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_pdf(doc: ReportContent) -> bytes:
    font = register_font()
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=16, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=12)
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=8)
    heading = ParagraphStyle("heading", parent=body, fontSize=13, leading=20, spaceBefore=10, spaceAfter=4)
    story: list = [Paragraph(_escape(doc.title), title)]
    story += [Paragraph(_escape(f"{label}：{value}"), body) for label, value in doc.facts]
    width = A4[0] - 40 * mm
    for part in doc.sections:
        block: list = [Paragraph(_escape(part.title), heading)]
        if part.chart is not None:
            block.append(chart_drawing(part.chart, font))
        story.append(KeepTogether(block))
        if part.rows:
            data = [[Paragraph(_escape(v), cell) for v in row] for row in [part.header, *part.rows]]
            first = width * (0.4 if len(part.header) <= 4 else 0.28)
            rest = (width - first) / (len(part.header) - 1)
            table = Table(data, colWidths=[first] + [rest] * (len(part.header) - 1), repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2")),
                        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ]
                )
            )
            story.append(table)
        if part.note:
            story.append(Paragraph(_escape(part.note), body))
        story.append(Spacer(1, 4 * mm))
    out = BytesIO()
    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=doc.title,
    )
    pdf.build(story)
    return out.getvalue()

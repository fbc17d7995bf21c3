"""Checks of uploaded training files (course materials, evidence of external training).

Uploads are never served from MEDIA_URL: `training.views` streams them as attachments with a content type chosen
here from the extension, so a file cannot be rendered as a page of this site. These checks keep out what has no
business being stored: oversized files, unlisted extensions, and content that does not match its extension (an HTML
page renamed `.pdf`).
"""

from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from notifications.images import ImageRejected, random_name, reencode

MAX_MATERIAL_BYTES = 20 * 1024 * 1024
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024

# Extension → the content type a download is served with.
CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".txt": "text/plain; charset=utf-8",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
}
MATERIAL_EXTENSIONS = tuple(CONTENT_TYPES)
EVIDENCE_EXTENSIONS = (".pdf", ".jpg", ".jpeg", ".png")

# The first bytes each binary format starts with (Office 2007+ files are ZIP archives, older ones OLE2).
_ZIP = (b"PK\x03\x04",)
_OLE2 = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
MAGIC = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": _ZIP,
    ".pptx": _ZIP,
    ".xlsx": _ZIP,
    ".doc": _OLE2,
    ".ppt": _OLE2,
    ".xls": _OLE2,
}
# Pictures are decoded by Pillow and stored re-encoded (notifications.images): no EXIF/GPS, nothing appended.
IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}
MAX_IMAGE_PIXELS = 40_000_000
# Markup a browser would render if it ever sniffed the file as HTML; refused even inside a .txt.
_MARKUP = (b"<!doctype", b"<html", b"<script", b"<svg", b"<iframe", b"<body", b"<head")


def extension(name: str) -> str:
    return PurePath(name or "").suffix.lower()


def content_type_for(name: str) -> str:
    """The content type a stored file is served with; anything unknown is an opaque download."""
    return CONTENT_TYPES.get(extension(name), "application/octet-stream")


def _check(file, *, allowed: tuple[str, ...], max_bytes: int) -> None:
    ext = extension(file.name)
    if ext not in allowed:
        raise ValidationError(
            _("不支持的文件类型，请上传以下格式之一：%(types)s。") % {"types": "、".join(e[1:] for e in allowed)},
            code="file_type",
        )
    if file.size is not None and file.size > max_bytes:
        raise ValidationError(
            _("文件不能超过 %(size)s。") % {"size": filesizeformat(max_bytes)},
            code="file_size",
        )
    if file.size == 0:
        raise ValidationError(_("文件是空的。"), code="file_empty")
    position = file.tell() if hasattr(file, "tell") else 0
    file.seek(0)
    head = file.read(1024)
    file.seek(position)
    if isinstance(head, str):
        head = head.encode()
    if ext in MAGIC and not head.startswith(MAGIC[ext]):
        raise ValidationError(_("文件内容与扩展名不符。"), code="file_content")
    lowered = head.lower()
    if any(marker in lowered for marker in _MARKUP):
        raise ValidationError(_("文件内容与扩展名不符。"), code="file_content")
    if ext in IMAGE_FORMATS:
        _picture(file, ext)


def _picture(file, ext: str) -> tuple[bytes, str]:
    """The re-encoded picture and its extension; ValidationError when Pillow does not see that kind of image."""
    fmt = IMAGE_FORMATS[ext]
    try:
        content, _width, _height = reencode(
            file, accepted=frozenset({fmt}), max_pixels=MAX_IMAGE_PIXELS, max_side=None, fmt=fmt
        )
    except ImageRejected as exc:
        if exc.reason == "pixels":
            raise ValidationError(_("图片尺寸过大。"), code="file_dimensions") from None
        raise ValidationError(_("文件内容与扩展名不符。"), code="file_content") from None
    return content, ".jpg" if fmt == "JPEG" else ".png"


def stored_copy(file) -> File:
    """What is stored for a checked upload: pictures re-encoded without metadata, other files as they are; always
    under a random name with the file's extension (the download's name comes from the record, not from here)."""
    ext = extension(file.name)
    if ext in IMAGE_FORMATS:
        content, ext = _picture(file, ext)
        return ContentFile(content, name=random_name(ext))
    file.seek(0)
    return File(file, name=random_name(ext))


def validate_material_file(file) -> None:
    """A course material: listed extension, at most 20 MB, content matching the extension."""
    _check(file, allowed=MATERIAL_EXTENSIONS, max_bytes=MAX_MATERIAL_BYTES)


def validate_evidence_file(file) -> None:
    """Evidence of an external training (certificate scan or photo): PDF, JPG or PNG, at most 10 MB."""
    _check(file, allowed=EVIDENCE_EXTENSIONS, max_bytes=MAX_EVIDENCE_BYTES)

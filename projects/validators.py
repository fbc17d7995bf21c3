"""The project logo: checked, then re-encoded, so what is stored is a plain PNG this code wrote.

An upload is refused when it is too large, not a JPEG/PNG/WebP/GIF image Pillow can decode, or has absurd
dimensions (a decompression bomb). What passes is re-encoded as PNG, at most 512 px on its longer side: metadata
(EXIF with the photographer's location, comments) and anything appended to the image are dropped, and the file is
served by `projects.views.project_logo` with a fixed content type.
"""

from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from notifications.images import ImageRejected, random_name, reencode

MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_LOGO_PIXELS = 4096 * 4096
LOGO_SIDE = 512
LOGO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
LOGO_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF"})


def clean_logo(upload) -> ContentFile:
    """The re-encoded PNG of an uploaded logo under a random name; ValidationError when it is not acceptable."""
    if PurePath(upload.name or "").suffix.lower() not in LOGO_EXTENSIONS:
        raise ValidationError(_("标识只能是 PNG、JPG、WebP 或 GIF 图片。"), code="logo_type")
    if upload.size is not None and upload.size > MAX_LOGO_BYTES:
        raise ValidationError(
            _("标识图片不能超过 %(size)s。") % {"size": filesizeformat(MAX_LOGO_BYTES)}, code="logo_size"
        )
    try:
        content, _width, _height = reencode(
            upload, accepted=LOGO_FORMATS, max_pixels=MAX_LOGO_PIXELS, max_side=LOGO_SIDE, fmt="PNG"
        )
    except ImageRejected as exc:
        if exc.reason == "format":
            raise ValidationError(_("标识只能是 PNG、JPG、WebP 或 GIF 图片。"), code="logo_type") from None
        if exc.reason == "pixels":
            raise ValidationError(_("标识图片尺寸过大。"), code="logo_dimensions") from None
        raise ValidationError(_("无法识别该图片，请换一张。"), code="logo_invalid") from None
    return ContentFile(content, name=random_name(".png"))

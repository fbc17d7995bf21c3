"""Fulfilment photos: checked, re-encoded as JPEG without metadata, stored under random names.

Re-encoding from decoded pixels drops EXIF (GPS position, camera serial), ICC and comments, and defeats files that
are valid images and something else at once. Orientation from EXIF is applied first, so the picture stays upright.
"""

import secrets
from io import BytesIO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
MAX_SIDE = 1600  # stored photos are scaled down to this longest side
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}


def process_photo(upload) -> tuple[ContentFile, int, int]:
    """A checked upload as (JPEG file with a random name, width, height); ValidationError with a message if not."""
    if upload.size > MAX_PHOTO_BYTES:
        raise ValidationError(
            _("照片“%(name)s”太大（最大%(max)s）。") % {"name": upload.name, "max": filesizeformat(MAX_PHOTO_BYTES)}
        )
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            fmt = probe.format
            width, height = probe.size
            if fmt not in ACCEPTED_FORMATS:
                raise ValidationError(_("照片“%(name)s”不是 JPEG、PNG 或 WebP 图片。") % {"name": upload.name})
            if width * height > MAX_PIXELS:
                raise ValidationError(_("照片“%(name)s”的像素太多。") % {"name": upload.name})
            probe.load()
            image = ImageOps.exif_transpose(probe)
            image = image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        message = _("照片“%(name)s”无法识别，请上传 JPEG、PNG 或 WebP 图片。") % {"name": upload.name}
        raise ValidationError(message) from None
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True)  # no exif= argument: no metadata is written
    name = f"{secrets.token_hex(16)}.jpg"
    return ContentFile(out.getvalue(), name=name), image.width, image.height

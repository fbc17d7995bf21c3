"""Fulfilment photos: checked, re-encoded as JPEG without metadata, stored under random names.

Re-encoding from decoded pixels drops EXIF (GPS position, camera serial), ICC and comments, and defeats files that
are valid images and something else at once. Orientation from EXIF is applied first, so the picture stays upright.
"""

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from notifications.images import ImageRejected, random_name, reencode

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
MAX_SIDE = 1600  # stored photos are scaled down to this longest side
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


def process_photo(upload) -> tuple[ContentFile, int, int]:
    """A checked upload as (JPEG file with a random name, width, height); ValidationError with a message if not."""
    if upload.size > MAX_PHOTO_BYTES:
        raise ValidationError(
            _("照片“%(name)s”太大（最大%(max)s）。") % {"name": upload.name, "max": filesizeformat(MAX_PHOTO_BYTES)}
        )
    try:
        content, width, height = reencode(
            upload, accepted=ACCEPTED_FORMATS, max_pixels=MAX_PIXELS, max_side=MAX_SIDE, fmt="JPEG"
        )
    except ImageRejected as exc:
        if exc.reason == "format":
            message = _("照片“%(name)s”不是 JPEG、PNG 或 WebP 图片。")
        elif exc.reason == "pixels":
            message = _("照片“%(name)s”的像素太多。")
        else:
            message = _("照片“%(name)s”无法识别，请上传 JPEG、PNG 或 WebP 图片。")
        raise ValidationError(message % {"name": upload.name}) from None
    return ContentFile(content, name=random_name(".jpg")), width, height

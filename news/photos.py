"""The photo of a news item: checked like every upload here (training/files.py, demands/photos.py), then re-encoded.

Refused: an extension other than JPG/PNG/WebP, more than 8 MB, content Pillow does not decode as one of those
formats (an HTML page renamed .jpg), or a decompression bomb. What passes is stored as a JPEG this code wrote from
the decoded pixels, at most 1600 px on its longer side, under a random name: EXIF (the photographer's position) and
anything appended to the file are gone.
"""

from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from notifications.images import ImageRejected, random_name, reencode

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 1600
EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


def check_photo(upload) -> ContentFile:
    """The re-encoded JPEG of `upload` under a random name; ValidationError with the reason when it is refused."""
    if PurePath(upload.name or "").suffix.lower() not in EXTENSIONS:
        raise ValidationError(_("照片只能是 JPG、PNG 或 WebP 图片。"), code="photo_type")
    if upload.size is not None and upload.size > MAX_PHOTO_BYTES:
        raise ValidationError(
            _("照片不能超过 %(size)s。") % {"size": filesizeformat(MAX_PHOTO_BYTES)}, code="photo_size"
        )
    if upload.size == 0:
        raise ValidationError(_("照片文件是空的。"), code="photo_empty")
    try:
        content, _width, _height = reencode(
            upload, accepted=FORMATS, max_pixels=MAX_PIXELS, max_side=MAX_SIDE, fmt="JPEG"
        )
    except ImageRejected as exc:
        if exc.reason == "pixels":
            raise ValidationError(_("照片尺寸过大。"), code="photo_dimensions") from None
        raise ValidationError(_("无法识别该照片，请上传 JPG、PNG 或 WebP 图片。"), code="photo_invalid") from None
    return ContentFile(content, name=random_name(".jpg"))

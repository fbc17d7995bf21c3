"""Uploaded pictures, decoded and written again by this code (wish photos, training evidence, project logos).

Trusting an upload's name or the browser's content type is how an HTML page ends up served as "photo.jpg". Here
Pillow must recognise the bytes as one of the accepted formats, the pixel count is checked from the header before
anything is decoded (a decompression bomb is a tiny file that expands to gigabytes), and what is stored is a new
file encoded from the decoded pixels: EXIF (GPS position, camera serial), ICC profiles, comments and whatever was
appended to or hidden in the original are gone. EXIF orientation is applied first so the picture stays upright.
It lives in the lowest app because every app that takes pictures uses it.
"""

import secrets
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError


class ImageRejected(ValueError):
    """Why an upload is not an acceptable picture: "format" (not one of the accepted formats), "pixels" (too
    many) or "unreadable" (not an image, truncated, or a bomb). Callers turn it into their own message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def reencode(upload, *, accepted: set[str] | frozenset[str], max_pixels: int, max_side: int | None, fmt: str):
    """(bytes in `fmt`, width, height) of `upload` decoded and encoded again without metadata; ImageRejected if it
    is not a picture in one of the `accepted` Pillow formats ("JPEG", "PNG", …) with at most `max_pixels` pixels.
    `max_side` scales the picture down to that longest side (None keeps its size)."""
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            if probe.format not in accepted:
                raise ImageRejected("format")
            if probe.width * probe.height > max_pixels:
                raise ImageRejected("pixels")
            probe.load()
            image = ImageOps.exif_transpose(probe).convert("RGB" if fmt == "JPEG" else "RGBA")
            # A new image from the pixels alone: `convert` copies `info`, and Pillow writes a JPEG comment, an ICC
            # profile or PNG text chunks found there into the new file (a comment may hold an HTML page).
            image = Image.frombytes(image.mode, image.size, image.tobytes())
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        raise ImageRejected("unreadable") from None
    finally:
        upload.seek(0)
    if max_side:
        image.thumbnail((max_side, max_side))
    out = BytesIO()
    options = {"quality": 85, "optimize": True} if fmt == "JPEG" else {"optimize": True}
    image.save(out, format=fmt, **options)  # no exif=/icc_profile= arguments: nothing but pixels is written
    return out.getvalue(), image.width, image.height


def random_name(extension: str) -> str:
    """A storage name nobody can guess or choose: 32 hex digits and the extension (".jpg")."""
    return f"{secrets.token_hex(16)}{extension}"

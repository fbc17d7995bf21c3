"""QR codes as SVG (qrcode's path image: one <path>, which scales cleanly from a phone to a poster)."""

from io import BytesIO

import qrcode
import qrcode.image.svg


def qr_svg(data: str, *, box_size: int = 10, inline: bool = False) -> str:
    """An SVG QR code of `data`: a document with its XML declaration (to serve as image/svg+xml), or with `inline`
    the bare <svg> element to put into a page."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=box_size, border=2)
    if inline:
        return image.to_string(encoding="unicode")
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()

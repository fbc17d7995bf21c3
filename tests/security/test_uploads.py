"""Every upload of the project — wish photos (demands), training materials and evidence (training), project logos
(projects) — against the classic attack files: HTML disguised as a picture, a valid picture that is also HTML (a
polyglot), an oversized file, a decompression bomb, and a photo carrying its GPS position. What is stored is
re-encoded by Pillow under a random name, and it is served with the type this code chose, never as a page."""

import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import PurePath

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image

from demands import services as demand_services
from demands.models import MicroWish, WishPhoto
from projects.models import ServiceProject
from tests.demands.factories import wish_in_state
from tests.projects.factories import ProjectFactory
from tests.training.factories import CourseFactory
from training import services as training_services
from training.models import CourseMaterial, TrainingRecord

pytestmark = pytest.mark.django_db

RANDOM_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|pdf)$")
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def gps_jpeg(size=(640, 480)) -> bytes:
    """A JPEG whose EXIF holds a camera serial and the GPS position of the resident's home."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({1: "N", 2: (31.0, 14.0, 3.0), 3: "E", 4: (121.0, 28.0, 7.0)})
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def polyglot_jpeg(*, comment: bool = True) -> bytes:
    """A real JPEG that is an HTML page too: markup appended after the image and (by default) in a comment
    segment, which Pillow used to copy into the re-encoded file."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(out, format="JPEG", **({"comment": HTML} if comment else {}))
    return out.getvalue() + b"\0" * 2048 + HTML


def bomb_png() -> bytes:
    """50 million pixels in a ~6 KB PNG: decoding it would take gigabytes in RGB."""
    out = io.BytesIO()
    Image.new("1", (10_000, 5_000)).save(out, format="PNG")
    return out.getvalue()


def _upload(name: str, content: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    # The browser's content type is whatever the attacker says: every file here claims to be a picture.
    return SimpleUploadedFile(name, content, content_type=content_type)


def _stored_bytes(field_file) -> bytes:
    with field_file.open("rb") as handle:
        return handle.read()


def _assert_clean_picture(data: bytes, fmt: str) -> None:
    assert b"<script" not in data.lower() and b"<html" not in data.lower()
    assert b"SecretCamera" not in data and b"SERIAL-123456" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == fmt
        exif = image.getexif()
        assert not exif and not exif.get_ifd(ExifTags.IFD.GPSInfo)


# --- Wish photos (fulfilment) ---------------------------------------------------------------------------------


@pytest.fixture
def claimed(org_tree, secretary_a, member_a):
    return wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)


def _fulfil(wish, member, *photos):
    end = timezone.now() - timedelta(hours=1)
    return demand_services.wish_fulfil(
        wish=wish,
        member=member,
        note="已上门修好。",
        start=end - timedelta(hours=2),
        end=end,
        hours=Decimal("2"),
        photos=list(photos),
    )


def test_wish_photos_are_reencoded_without_gps_under_random_names(client, claimed, member_a):
    _fulfil(claimed, member_a, _upload("我家.jpg", gps_jpeg()), _upload("x.jpg", polyglot_jpeg()))
    photos = list(WishPhoto.objects.filter(wish=claimed))
    assert len(photos) == 2
    for photo in photos:
        assert RANDOM_NAME.match(PurePath(photo.image.name).name)
        _assert_clean_picture(_stored_bytes(photo.image), "JPEG")
    client.force_login(member_a.user)
    response = client.get(reverse("demands:photo", args=[claimed.pk, photos[1].pk]))
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    _assert_clean_picture(b"".join(response.streaming_content), "JPEG")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("page.jpg", HTML, "无法识别"),
        ("bomb.png", bomb_png(), "像素太多"),
        ("big.jpg", b"\xff\xd8\xff" + b"0" * (8 * 1024 * 1024 + 1), "太大"),
    ],
    ids=["html-as-jpg", "decompression-bomb", "oversized"],
)
def test_wish_photos_refuse_html_bombs_and_oversized_files(claimed, member_a, name, content, message):
    with pytest.raises(ValidationError) as caught:
        _fulfil(claimed, member_a, _upload(name, content))
    assert message in str(caught.value)
    claimed.refresh_from_db()
    assert claimed.state == MicroWish.State.CLAIMED and not WishPhoto.objects.exists()


# --- Training evidence and materials --------------------------------------------------------------------------


def _evidence(member, upload):
    return training_services.external_training_record(
        member=member,
        course=CourseFactory(),
        hours=2,
        completed_on=timezone.localdate(),
        evidence=upload,
        actor=None,
    )


def test_training_evidence_photo_loses_its_gps_and_its_name(client, member_a):
    record = _evidence(member_a, _upload("证书 (家里拍的).jpg", gps_jpeg()))
    assert RANDOM_NAME.match(PurePath(record.evidence.name).name)
    _assert_clean_picture(_stored_bytes(record.evidence), "JPEG")
    client.force_login(member_a.user)
    response = client.get(reverse("training:evidence_download", args=[record.pk]))
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_polyglot_evidence_is_refused_or_stored_as_pixels_only(member_a):
    # Markup in the first kilobyte (the comment segment) is refused outright by the content check …
    with pytest.raises(ValidationError, match="文件内容与扩展名不符"):
        _evidence(member_a, _upload("scan.jpg", polyglot_jpeg()))
    # … markup further in is dropped by the re-encoding.
    record = _evidence(member_a, _upload("scan.jpg", polyglot_jpeg(comment=False)))
    _assert_clean_picture(_stored_bytes(record.evidence), "JPEG")


def test_a_pdf_is_kept_as_it_is_under_a_random_name(member_a):
    record = _evidence(member_a, _upload("证书.pdf", PDF, "application/pdf"))
    assert RANDOM_NAME.match(PurePath(record.evidence.name).name)
    assert _stored_bytes(record.evidence) == PDF


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("scan.jpg", HTML, "文件内容与扩展名不符"),
        ("scan.png", b"\x89PNG\r\n\x1a\n" + HTML, "文件内容与扩展名不符"),  # the right magic, then a page
        ("scan.png", bomb_png(), "图片尺寸过大"),
        ("scan.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024), "文件不能超过"),
        ("page.html", HTML, "不支持的文件类型"),
    ],
    ids=["html-as-jpg", "html-after-png-magic", "decompression-bomb", "oversized", "html"],
)
def test_training_evidence_refuses_disguised_pages_bombs_and_oversized_files(member_a, name, content, message):
    with pytest.raises(ValidationError) as caught:
        _evidence(member_a, _upload(name, content))
    assert message in str(caught.value)
    assert not TrainingRecord.objects.exists()


def test_a_material_picture_is_reencoded_and_downloaded_as_an_attachment(client, member_a):
    material = training_services.course_material_save(
        material=CourseMaterial(course=CourseFactory(), title="签到点位图", file=_upload("map.jpg", gps_jpeg())),
        actor=None,
    )
    assert RANDOM_NAME.match(PurePath(material.file.name).name)
    _assert_clean_picture(_stored_bytes(material.file), "JPEG")
    client.force_login(member_a.user)
    response = client.get(reverse("training:material_download", args=[material.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


# --- Project logos --------------------------------------------------------------------------------------------


def test_a_logo_is_a_png_this_code_wrote(client, org_tree):
    project = ProjectFactory(organization=org_tree.branch_a, slug="logo-test", logo=_upload("logo.jpg", gps_jpeg()))
    project = ServiceProject.objects.get(pk=project.pk)
    assert RANDOM_NAME.match(PurePath(project.logo.name).name)
    _assert_clean_picture(_stored_bytes(project.logo), "PNG")
    response = client.get(reverse("projects:project_logo", args=["logo-test"]))
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("content", "message"),
    [(HTML, "无法识别该图片"), (bomb_png(), "标识图片尺寸过大"), (b"\x89PNG" + b"0" * (2 * 1024 * 1024), "不能超过")],
    ids=["html-as-png", "decompression-bomb", "oversized"],
)
def test_a_bad_logo_is_refused(org_tree, content, message):
    with pytest.raises(ValidationError) as caught:
        ProjectFactory(organization=org_tree.branch_a, slug="bad-logo", logo=_upload("logo.png", content))
    assert message in str(caught.value)
    assert not ServiceProject.objects.filter(slug="bad-logo").exists()

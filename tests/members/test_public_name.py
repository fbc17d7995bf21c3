import pytest

from members.models import Member, mask_name


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张**"),
        ("李小龙", "李**"),
        ("欧阳修", "欧阳**"),
        ("欧阳", "欧**"),
        ("司马相如", "司马**"),
        ("王", "王**"),
    ],
)
def test_mask_name_keeps_the_surname_and_hides_the_length(name, masked):
    assert mask_name(name) == masked


def test_public_name_is_full_only_with_consent():
    assert Member(name="张三丰").public_name == "张**"
    assert Member(name="张三丰", show_full_name_publicly=True).public_name == "张三丰"

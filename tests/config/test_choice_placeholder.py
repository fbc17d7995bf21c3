"""One place for two habits of every form's dropdowns (core.forms, core.sorting): a placeholder that says what to
choose instead of Django's "---------", and names counted the way people count them."""

from django import forms

from core.forms import GuardedForm
from core.sorting import chinese_number, natural_key
from members.models import Community


class _Form(GuardedForm):
    community = forms.ModelChoiceField(label="社区（村）", queryset=Community.objects.none())
    status = forms.ChoiceField(label="状态：", choices=[("", "---------"), ("a", "在册")], required=False)
    team = forms.ModelChoiceField(label="服务队", queryset=Community.objects.none(), empty_label="个人")
    unlabelled = forms.ModelChoiceField(label="", queryset=Community.objects.none())


def test_dropdowns_say_what_to_choose():
    form = _Form()
    assert form.fields["community"].empty_label == "请选择社区"
    assert form.fields["status"].choices == [("", "请选择状态"), ("a", "在册")]
    assert form.fields["team"].empty_label == "个人"  # a field's own empty label is kept
    assert form.fields["unlabelled"].empty_label == "请选择"


def test_chinese_numbers():
    assert [chinese_number(t) for t in ("三", "十", "十一", "二十", "二十三", "一百零五", "一〇五")] == [
        3,
        10,
        11,
        20,
        23,
        105,
        105,
    ]


def test_names_sort_by_their_numbers():
    names = ["第三网格", "第十网格", "第一网格", "10号楼", "第二网格", "2号楼", "第十一网格"]
    assert sorted(names, key=natural_key) == [
        "2号楼",
        "10号楼",
        "第一网格",
        "第二网格",
        "第三网格",
        "第十网格",
        "第十一网格",
    ]

"""Text people type refuses control characters on every form (core/text.py, core/forms.py), and every text field
of a form has a length limit no longer than its column."""

import importlib

import pytest
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models

from core.forms import GuardedForm, TextGuardMixin
from core.text import check_text

PROJECT_APPS = (
    *("audit", "notifications", "members", "incentives"),
    *("training", "demands", "projects", "volunteer_platform"),
)
C0 = [chr(code) for code in range(0x20)]


@pytest.mark.parametrize("char", [*C0, "\x7f"], ids=lambda c: f"U+{ord(c):04X}")
def test_a_single_line_refuses_every_c0_control_and_del(char):
    with pytest.raises(ValidationError) as refused:
        check_text(f"张{char}三")
    assert refused.value.code in ("control_characters", "line_breaks")


@pytest.mark.parametrize("char", [c for c in [*C0, "\x7f"] if c not in "\t\n\r"], ids=lambda c: f"U+{ord(c):04X}")
def test_a_textarea_refuses_the_controls_but_tab_and_line_breaks(char):
    check_text("第一行\r\n\t第二行", multiline=True)
    with pytest.raises(ValidationError) as refused:
        check_text(f"第一行\n第{char}二行", multiline=True)
    assert refused.value.code == "control_characters"
    assert refused.value.params == {"position": 6}  # where to look, counted from 1


def test_the_messages_say_what_to_do():
    with pytest.raises(ValidationError) as single:
        check_text("张\t三")
    assert single.value.messages == ["此项只能填写一行文字，请去掉其中的换行符或制表符。"]
    with pytest.raises(ValidationError) as nul:
        check_text("张\x00三")
    assert nul.value.messages == ["内容中含有控制字符（如空字符 NUL，位置 2），请删除后重新输入。"]


def test_strings_inside_json_are_checked_and_other_text_passes():
    with pytest.raises(ValidationError):
        check_text({"a": ["ok", "b\x00"]})
    with pytest.raises(ValidationError):
        check_text({"k\x01": 1})
    for fine in ("", "普通文字", "\u202e\u200d😀", "<script>alert(1)</script>", "=1+1", 5, None, {"a": [1, "b"]}):
        check_text(fine)


class _Sample(GuardedForm):
    line = forms.CharField(max_length=20)
    text = forms.CharField(max_length=200, widget=forms.Textarea)
    secret = forms.CharField(max_length=20, widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["added"] = forms.CharField(max_length=20, required=False)


def test_a_guarded_form_checks_each_text_field_once_with_one_message():
    form = _Sample({"line": "a\x00b", "text": "一\n二\x00", "secret": "p\tw", "added": "x\x1by"})
    assert not form.is_valid()
    assert set(form.errors) == {"line", "text", "added"}  # a password is hashed, never stored as typed
    assert form.errors["line"] == ["内容中含有控制字符（如空字符 NUL，位置 2），请删除后重新输入。"]
    ok = _Sample({"line": "张三", "text": "一\r\n\t二", "secret": "p\tw"})
    assert ok.is_valid(), ok.errors
    assert ok.is_valid()  # cleaning twice adds no second validator
    assert sum(type(v).__name__ == "TextValidator" for v in ok.fields["line"].validators) == 1


def _project_form_classes() -> list[type]:
    for app in PROJECT_APPS:
        for module in ("forms", "portal_forms", "admin", "views", "dashboard_views", "auth_views"):
            try:
                importlib.import_module(f"{app}.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.{module}":
                    raise
    found, stack = [], [forms.BaseForm]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in PROJECT_APPS and "Meta" not in cls.__name__:
            found.append(cls)
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def test_every_form_of_the_project_is_guarded():
    classes = _project_form_classes()
    assert len(classes) > 40  # the walk found the project's forms
    unguarded = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, TextGuardMixin)]
    assert not unguarded, "inherit core.forms.GuardedForm / GuardedModelForm:\n" + "\n".join(unguarded)


def test_every_admin_that_writes_uses_a_guarded_form(rf, platform_admin):
    request = rf.get("/admin/")
    request.user = platform_admin
    failures = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        writes = model_admin.has_add_permission(request) or model_admin.has_change_permission(request)
        if writes and not issubclass(model_admin.form, TextGuardMixin):
            failures.append(f"{model._meta.label}: {model_admin.form}")
        for inline in model_admin.get_inline_instances(request):
            writes = inline.has_add_permission(request, None) or inline.has_change_permission(request)
            if writes and not issubclass(inline.form, TextGuardMixin):
                failures.append(f"{model._meta.label} inline {inline.model._meta.label}: {inline.form}")
    assert not failures, "set form = a core.forms.GuardedModelForm:\n" + "\n".join(failures)


def _columns(form_class) -> dict[str, models.Field]:
    meta = getattr(form_class, "_meta", None)
    model = getattr(meta, "model", None)
    return {f.name: f for f in model._meta.get_fields() if isinstance(f, models.Field)} if model else {}


def test_every_text_field_of_a_form_has_a_limit_within_its_column():
    failures = []
    for form_class in _project_form_classes():
        columns = _columns(form_class)
        try:
            fields = form_class().fields  # with the fields its __init__ adds or changes (the sign-in username)
        except TypeError:  # a form that needs its object or user
            fields = form_class.base_fields
        for name, field in fields.items():
            if not isinstance(field, forms.CharField) or isinstance(field, forms.JSONField):
                continue
            if isinstance(field.widget, forms.PasswordInput):
                continue
            column = columns.get(name)
            label = f"{form_class.__module__}.{form_class.__qualname__}.{name}"
            if column is not None and isinstance(column, models.TextField) and column.max_length is None:
                continue  # a text column without a limit, as the admin shows it
            if field.max_length is None:
                failures.append(f"{label}: no max_length")
            elif column is not None and getattr(column, "max_length", None) and field.max_length > column.max_length:
                failures.append(f"{label}: {field.max_length} > column {column.max_length}")
    assert not failures, "\n".join(failures)

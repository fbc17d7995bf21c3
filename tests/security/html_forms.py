"""The forms of a rendered page as a browser sees them (stdlib html.parser): where each one posts, its fields and the
submission a browser would make without touching anything."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

UNSENT_TYPES = {"file", "image", "reset", "button"}


@dataclass
class Field:
    name: str
    kind: str  # input type, "select", "textarea" or "submit"
    value: str = ""
    checked: bool = False
    multiple: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # (value, selected) of a select


@dataclass
class HtmlForm:
    method: str
    action: str  # a path with its query string
    fields: list[Field] = field(default_factory=list)

    def names(self) -> list[str]:
        """Every field name a person could change, in page order, once each (not the CSRF token, not files)."""
        found = []
        for f in self.fields:
            if f.kind not in UNSENT_TYPES and f.name != "csrfmiddlewaretoken" and f.name not in found:
                found.append(f.name)
        return found

    def data(self, submit: str | None = None) -> dict[str, list[str]]:
        """What a browser sends when the form is submitted as rendered (with the first submit button, or `submit`)."""
        data: dict[str, list[str]] = {}
        radios_seen = set()
        buttons = [f for f in self.fields if f.kind == "submit" and f.name]
        for f in self.fields:
            if f.kind in UNSENT_TYPES or f.kind == "submit":
                continue
            if f.kind in ("checkbox", "radio"):
                if f.kind == "radio":
                    radios_seen.add(f.name)
                if f.checked:
                    data.setdefault(f.name, []).append(f.value or "on")
            elif f.kind == "select":
                chosen = [value for value, selected in f.options if selected]
                if not chosen and f.options and not f.multiple:
                    chosen = [f.options[0][0]]
                data[f.name] = chosen
            else:
                data.setdefault(f.name, []).append(f.value)
        for name in radios_seen - set(data):
            first = next(f for f in self.fields if f.kind == "radio" and f.name == name)
            data[name] = [first.value]
        button = next((b for b in buttons if b.name == submit), buttons[0] if buttons else None)
        if button is not None:
            data.setdefault(button.name, []).append(button.value)
        return data


class _FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[HtmlForm] = []
        self._form: HtmlForm | None = None
        self._select: Field | None = None
        self._option: list | None = None
        self._textarea: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = {key: (value if value is not None else "") for key, value in attrs}
        if tag == "form":
            action = urljoin(self.page_url, a.get("action") or self.page_url)
            parts = urlsplit(action)
            self._form = HtmlForm(
                a.get("method", "get").lower(), parts.path + (f"?{parts.query}" if parts.query else "")
            )
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag == "input" and "name" in a:
            kind = a.get("type", "text").lower()
            self._form.fields.append(
                Field(a["name"], kind, a.get("value", "on" if kind == "checkbox" else ""), checked="checked" in a)
            )
        elif tag == "button" and "name" in a and a.get("type", "submit").lower() == "submit":
            self._form.fields.append(Field(a["name"], "submit", a.get("value", "")))
        elif tag == "select" and "name" in a:
            self._select = Field(a["name"], "select", multiple="multiple" in a)
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]
        elif tag == "textarea" and "name" in a:
            self._textarea = Field(a["name"], "textarea")
            self._form.fields.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data
        elif self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            if self._textarea is not None and self._textarea.value.startswith("\n"):
                self._textarea.value = self._textarea.value[1:]  # HTML drops the newline after <textarea>
            self._textarea = None
        elif tag == "option" and self._option is not None and self._select is not None:
            value, selected, text = self._option
            self._select.options.append((value if value is not None else text.strip(), selected))
            self._option = None
        elif tag == "select":
            self._select = None


def page_forms(html: str, page_url: str) -> list[HtmlForm]:
    parser = _FormParser(page_url)
    parser.feed(html)
    parser.close()
    return parser.forms

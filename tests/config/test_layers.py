"""DESIGN.md: each app imports only the apps below it. A reader can trust the layering because this test checks it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. Apps on the same rank (training, demands) may not import each other either.
LAYERS = [
    {"core"},  # the floor: shared infrastructure with no domain (encryption, page caches, rate limiter, ...)
    {"audit"},  # the trail every app writes to (audit/__init__.py)
    {"notifications"},
    {"members"},
    {"incentives"},
    {"training", "demands"},
    {"projects"},
    {"news"},
    {"volunteer_platform"},
]
RANK = {app: rank for rank, apps in enumerate(LAYERS) for app in apps}


def imported_apps(path: Path) -> set[tuple[str, int]]:
    """(top-level package, line) of every absolute import in `path` that names one of our apps."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update((name.split(".")[0], node.lineno) for name in names if name.split(".")[0] in RANK)
    return found


def app_modules():
    for app in sorted(RANK):
        for path in sorted((ROOT / app).rglob("*.py")):
            yield app, path


@pytest.mark.parametrize(("app", "path"), list(app_modules()), ids=lambda v: str(v).replace(str(ROOT) + "/", ""))
def test_no_import_goes_up_a_layer(app, path):
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {other}"
        for other, line in sorted(imported_apps(path))
        if other != app and RANK[other] >= RANK[app]
    ]
    assert not upward, "imports that go up (or sideways) a layer:\n" + "\n".join(upward)


def test_the_checker_sees_an_upward_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("from projects.models import Activity\nimport members.services\n", encoding="utf-8")
    assert {name for name, _ in imported_apps(module)} == {"projects", "members"}


def test_core_is_the_floor_and_imports_no_app():
    """core/ is below every app, and no module of it imports one of ours (not even inside a function): a shared
    helper that needs a domain thing is handed it by the app (member_cache.accounts_of_members, say)."""
    assert LAYERS[0] == {"core"} and all(RANK[app] > RANK["core"] for app in RANK if app != "core")
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {other}"
        for path in sorted((ROOT / "core").rglob("*.py"))
        for other, line in sorted(imported_apps(path))
        if other != "core"
    ]
    assert not found, "core imports an app:\n" + "\n".join(found)


def test_core_is_a_plain_package_without_models():
    """core/ holds infrastructure only: no models (nothing to migrate), so it is no Django app."""
    assert not (ROOT / "core" / "models.py").exists()
    assert not (ROOT / "core" / "migrations").exists()

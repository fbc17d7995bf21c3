"""The API's contract: schemathesis drives every operation of /api/schema/ against the live test server, as an
anonymous caller, a member and a branch secretary (each with a device token), on a street with real objects, and
every answer must be no 500, a status the schema declares, the declared content type and a body that conforms.

Bounded (EXAMPLES per operation and persona) so the suite stays quick; `make test-thorough` runs 40."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from audit import services as audit_services
from tests.demands.factories import wish_category, wish_in_state
from tests.incentives.conftest import fund, make_item
from tests.members.wechat_fake import FakeWeChat
from tests.projects.factories import ActivityFactory
from tests.training.factories import SessionFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("API_CONTRACT_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def street(org_tree, secretary_a, member_a):
    wish_category()
    for state in ("submitted", "published", "claimed"):
        wish_in_state(state, org_tree.community_a, secretary_a, member_a)
    ActivityFactory(project__organization=org_tree.branch_a, capacity=3)
    SessionFactory(organizer=org_tree.branch_a, capacity=3)
    fund(member_a, 100)
    make_item(points_cost=10, stock=3, organization=org_tree.branch_a)
    return {"anon": None, "member_a": member_a.user, "secretary_a": secretary_a}


@pytest.mark.parametrize("persona", ["anon", "member_a", "secretary_a"])
def test_every_operation_keeps_the_schema(persona, street, live_server, settings_for_contract):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    headers = {}
    if street[persona] is not None:
        _row, token = audit_services.api_token_issue(user=street[persona], device="schemathesis")
        headers["Authorization"] = f"Bearer {token}"
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            case.headers = {**(case.headers or {}), **headers}  # the persona's token, not a generated one
            case.call_and_validate(base_url=live_server.url, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - every operation's failure is collected, then reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert operations >= 29  # every operation of the schema ran
    assert not failures, "\n\n".join(failures)


@pytest.fixture
def settings_for_contract(settings):
    """The limits stay on (a 429 is part of the contract), but high enough that the operations behind them run;
    WeChat is the fake on 127.0.0.1 (the mini-program's sign-in asks it: a made-up code is refused, a 400)."""
    settings.WISH_SUBMIT_IP_LIMIT = (1000, 3600)
    settings.SIGN_IN_CODE_IP_LIMIT = (1000, 3600)
    settings.SIGN_IN_CODE_CHECK_IP_LIMIT = (1000, 900)
    settings.WISH_TRACK_IP_LIMIT = (1000, 900)
    settings.WISH_FEEDBACK_IP_LIMIT = (1000, 900)
    settings.WECHAT_CALLBACK_IP_LIMIT = (1000, 900)
    fake = FakeWeChat({settings.WECHAT_MINI_APP_ID: settings.WECHAT_MINI_APP_SECRET})
    settings.WECHAT_API_URL = fake.url
    yield settings
    fake.close()


def test_the_schema_is_generated_once_per_release_and_language(client, monkeypatch):
    from drf_spectacular import generators

    calls = []
    real = generators.SchemaGenerator.get_schema
    monkeypatch.setattr(generators.SchemaGenerator, "get_schema", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = client.get("/api/schema/")
    second = client.get("/api/schema/")
    assert first.status_code == second.status_code == 200 and first.content == second.content
    assert b"/api/v1/wishes/" in first.content
    assert len(calls) == 1
    as_json = client.get("/api/schema/?format=json")
    assert as_json["Content-Type"].startswith("application/") and as_json.json()["openapi"].startswith("3.")
    english = client.get("/api/schema/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200 and len(calls) == 3

"""Seed the points rules with their defaults (a snapshot: later changes are made by a platform admin)."""

from decimal import Decimal

from django.db import migrations

DEFAULTS = [
    {"code": "service_hour", "points": 10, "cap_per_source": 100, "leader_multiplier": Decimal("1.5")},
    {"code": "wish_fulfilled", "points": 20},
    {"code": "resident_rating", "points": 5, "min_quantity": Decimal(4)},
    {"code": "training_hour", "points": 5},
    {"code": "commendation", "points": 100},
    {"code": "manual", "points": 0},
]


def seed(apps, schema_editor):
    Rule = apps.get_model("incentives", "Rule")
    for values in DEFAULTS:
        values = dict(values)
        Rule.objects.get_or_create(code=values.pop("code"), defaults=values)


def unseed(apps, schema_editor):
    Rule = apps.get_model("incentives", "Rule")
    LedgerEntry = apps.get_model("incentives", "LedgerEntry")
    # Rules already used by the ledger stay (their entries protect them); unused defaults go.
    Rule.objects.filter(code__in=[d["code"] for d in DEFAULTS]).exclude(
        pk__in=LedgerEntry.objects.values("rule_id")
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("incentives", "0001_ledger")]

    operations = [migrations.RunPython(seed, unseed)]

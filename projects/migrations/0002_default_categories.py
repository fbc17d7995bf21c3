"""Seed the project categories (a snapshot: platform admins edit the list afterwards)."""

from django.db import migrations

CATEGORIES = ["助老", "助残", "关爱儿童", "就业帮扶", "医疗健康", "法律援助", "环境卫生", "文化教育", "平安巡逻"]


def seed(apps, schema_editor):
    ProjectCategory = apps.get_model("projects", "ProjectCategory")
    for position, name in enumerate(CATEGORIES, start=1):
        ProjectCategory.objects.get_or_create(name=name, defaults={"position": position})


def unseed(apps, schema_editor):
    ProjectCategory = apps.get_model("projects", "ProjectCategory")
    # Categories in use stay (their projects protect them); unused defaults go.
    ProjectCategory.objects.filter(name__in=CATEGORIES, projects__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_projects_activities_signups")]

    operations = [migrations.RunPython(seed, unseed)]

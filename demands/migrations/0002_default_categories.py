from django.db import migrations

# The starting list of wish categories (DESIGN.md); a platform admin edits it afterwards.
CATEGORIES = [
    "助老",
    "助残",
    "关爱儿童",
    "就业帮扶",
    "医疗健康",
    "法律援助",
    "环境卫生",
    "文化教育",
    "生活服务",
    "其他",
]


def seed(apps, schema_editor):
    WishCategory = apps.get_model("demands", "WishCategory")
    for order, name in enumerate(CATEGORIES, start=1):
        WishCategory.objects.get_or_create(name=name, defaults={"order": order * 10})


def unseed(apps, schema_editor):
    WishCategory = apps.get_model("demands", "WishCategory")
    # Only categories no wish or offer uses: the others are data now.
    WishCategory.objects.filter(name__in=CATEGORIES, wishes__isnull=True, service_offers__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("demands", "0001_wishes")]

    operations = [migrations.RunPython(seed, unseed)]

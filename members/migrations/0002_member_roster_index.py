from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="member",
            name="members_member_org_status",
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(fields=["organization", "status", "id"], name="members_member_roster"),
        ),
    ]

from django.db import migrations, models

# English names of the starting categories (0002_default_categories), shown in English mode.
ENGLISH = {
    "助老": "Elderly care",
    "助残": "Disability support",
    "关爱儿童": "Caring for children",
    "就业帮扶": "Employment support",
    "医疗健康": "Health care",
    "法律援助": "Legal aid",
    "环境卫生": "Environment and sanitation",
    "文化教育": "Culture and education",
    "平安巡逻": "Safety patrols",
}


def fill(apps, schema_editor):
    ProjectCategory = apps.get_model("projects", "ProjectCategory")
    for name, english in ENGLISH.items():
        ProjectCategory.objects.filter(name=name, name_en="").update(name_en=english)


class Migration(migrations.Migration):
    dependencies = [("projects", "0006_checkin_place_and_signout")]

    operations = [
        migrations.AddField(
            model_name="projectcategory",
            name="name_en",
            field=models.CharField(
                blank=True,
                help_text="英文界面显示的名称；留空时显示中文名称。",
                max_length=100,
                verbose_name="英文名称",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]

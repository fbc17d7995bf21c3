from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incentives", "0008_record_points_terms"),
    ]

    operations = [
        migrations.AddField(
            model_name="catalogueitem",
            name="description_en",
            field=models.TextField(
                blank=True, help_text="英文界面显示的说明；留空时显示中文说明。", verbose_name="英文说明"
            ),
        ),
        migrations.AddField(
            model_name="catalogueitem",
            name="name_en",
            field=models.CharField(
                blank=True,
                help_text="英文界面显示的名称；留空时显示中文名称。",
                max_length=200,
                verbose_name="英文名称",
            ),
        ),
    ]

"""Students enrolled in a BTS dispositif 313–329 (320: the BTS in two years) were stored with the
three digits as their diploma level; students/mef.py now reads 310–329 as BTS (docs/formats.md).
Their stored level is corrected so that a pair compares like with like: a departure recorded before
this change and an arrival imported after it are both "BTS"."""

from django.db import migrations

CORRECTED = range(313, 330)


def bts_level_for_31x_32x(apps, schema_editor):
    Student = apps.get_model("students", "Student")
    for dispositif in CORRECTED:
        Student.objects.filter(diploma_level=str(dispositif), mef_code__startswith=str(dispositif)).update(
            diploma_level="BTS"
        )


def digits_again(apps, schema_editor):
    Student = apps.get_model("students", "Student")
    for dispositif in CORRECTED:
        Student.objects.filter(diploma_level="BTS", mef_code__startswith=str(dispositif)).update(
            diploma_level=str(dispositif)
        )


class Migration(migrations.Migration):
    dependencies = [("students", "0005_enrolment_evidence")]

    operations = [migrations.RunPython(bts_level_for_31x_32x, digits_again)]

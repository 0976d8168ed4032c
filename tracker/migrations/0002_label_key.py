"""Labels compare by `key` (rules.name_key: the casefold of the NFC form) instead of
PostgreSQL's lower(), which disagrees with Python for names such as `İstanbul` or `ΣΑΣ`.

Labels whose names were distinct under lower() but are one name under the new rule (`ΣΑΣ`
and `σας`) are merged into the oldest: its issues keep one link to it.
"""

import unicodedata

from django.db import migrations, models


def name_key(name):
    # The rule of tracker.rules.name_key as it stands at this migration.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def fill_keys(apps, schema_editor):
    Label = apps.get_model("tracker", "Label")
    IssueLabel = apps.get_model("tracker", "IssueLabel")
    keep: dict[str, int] = {}
    for label in Label.objects.order_by("id"):
        key = name_key(label.name)
        if key not in keep:
            keep[key] = label.pk
            Label.objects.filter(pk=label.pk).update(key=key)
            continue
        kept = keep[key]
        already = IssueLabel.objects.filter(label_id=kept).values("issue_id")
        IssueLabel.objects.filter(label_id=label.pk).exclude(issue_id__in=already).update(
            label_id=kept
        )
        IssueLabel.objects.filter(label_id=label.pk).delete()
        label.delete()
    # Run the deferred foreign-key checks now: the table cannot be altered below while
    # checks are pending.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [("tracker", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="label",
            name="key",
            field=models.CharField(editable=False, max_length=150, null=True),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="label",
            name="key",
            field=models.CharField(
                editable=False,
                help_text="rules.name_key(name): how label names compare, in Python and here alike.",
                max_length=150,
            ),
        ),
        migrations.RemoveConstraint(model_name="label", name="labels_name_ci_unique"),
        migrations.AddConstraint(
            model_name="label",
            constraint=models.UniqueConstraint(
                fields=("key",),
                name="labels_key_unique",
                violation_error_message="A label with this name already exists.",
            ),
        ),
    ]

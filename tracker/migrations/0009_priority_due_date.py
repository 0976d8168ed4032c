"""Priority and due date on issues, without locking a large issues table.

Both columns are added without a table rewrite (PostgreSQL 11+ stores a constant DEFAULT
in the catalogue; a nullable column without a default needs nothing): each ALTER holds its
lock for milliseconds whatever the number of rows. Being non-atomic, every step commits on
its own, so no lock outlives its statement. The indexes are built CONCURRENTLY (reads and
writes go on), and the CHECK constraint is added NOT VALID (no scan under the lock) and
validated afterwards under a lock that lets reads and writes through.
bench/migration_bench.py measures the longest wait it causes on a million issues.
"""

import datetime

import django.contrib.postgres.fields
import django.db.models.functions.comparison
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

PRIORITY_VALID = "\"priority\" IN ('none', 'low', 'medium', 'high', 'urgent')"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('tracker', '0008_job_files'),
    ]

    operations = [
        migrations.AddField(
            model_name='issue',
            name='due_date',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='issue',
            name='priority',
            field=models.CharField(choices=[('none', 'None'), ('low', 'Low'), ('medium', 'Medium'), ('high', 'High'), ('urgent', 'Urgent')], db_default='none', default='none', max_length=8),
        ),
        migrations.AlterField(
            model_name='issueevent',
            name='event',
            field=models.CharField(choices=[('issue_created', 'Issue Created'), ('title_changed', 'Title Changed'), ('description_changed', 'Description Changed'), ('status_changed', 'Status Changed'), ('issue_closed', 'Issue Closed'), ('issue_reopened', 'Issue Reopened'), ('assignee_changed', 'Assignee Changed'), ('labels_changed', 'Labels Changed'), ('priority_changed', 'Priority Changed'), ('due_date_changed', 'Due Date Changed'), ('comment_added', 'Comment Added')], max_length=32),
        ),
        migrations.AlterField(
            model_name='notification',
            name='event',
            field=models.CharField(choices=[('issue_created', 'Issue Created'), ('title_changed', 'Title Changed'), ('description_changed', 'Description Changed'), ('status_changed', 'Status Changed'), ('issue_closed', 'Issue Closed'), ('issue_reopened', 'Issue Reopened'), ('assignee_changed', 'Assignee Changed'), ('labels_changed', 'Labels Changed'), ('priority_changed', 'Priority Changed'), ('due_date_changed', 'Due Date Changed'), ('comment_added', 'Comment Added')], max_length=32),
        ),
        migrations.AlterField(
            model_name='webhook',
            name='events',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[('issue_created', 'Issue Created'), ('title_changed', 'Title Changed'), ('description_changed', 'Description Changed'), ('status_changed', 'Status Changed'), ('issue_closed', 'Issue Closed'), ('issue_reopened', 'Issue Reopened'), ('assignee_changed', 'Assignee Changed'), ('labels_changed', 'Labels Changed'), ('priority_changed', 'Priority Changed'), ('due_date_changed', 'Due Date Changed'), ('comment_added', 'Comment Added')], max_length=32), blank=True, default=list, help_text='The events sent; empty for all of them.', size=None),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='event',
            field=models.CharField(choices=[('issue_created', 'Issue Created'), ('title_changed', 'Title Changed'), ('description_changed', 'Description Changed'), ('status_changed', 'Status Changed'), ('issue_closed', 'Issue Closed'), ('issue_reopened', 'Issue Reopened'), ('assignee_changed', 'Assignee Changed'), ('labels_changed', 'Labels Changed'), ('priority_changed', 'Priority Changed'), ('due_date_changed', 'Due Date Changed'), ('comment_added', 'Comment Added')], max_length=32),
        ),
        AddIndexConcurrently(
            model_name='issue',
            index=models.Index(models.Case(models.When(priority='low', then=models.Value(1)), models.When(priority='medium', then=models.Value(2)), models.When(priority='high', then=models.Value(3)), models.When(priority='urgent', then=models.Value(4)), default=models.Value(0)), models.F('id'), name='issues_priority_rank_idx'),
        ),
        AddIndexConcurrently(
            model_name='issue',
            index=models.Index(django.db.models.functions.comparison.Coalesce(models.F('due_date'), models.Value(datetime.date(9999, 12, 31))), models.F('id'), name='issues_due_date_last_idx'),
        ),
        AddIndexConcurrently(
            model_name='issue',
            index=models.Index(django.db.models.functions.comparison.Coalesce(models.F('due_date'), models.Value(datetime.date(1, 1, 1))), models.F('id'), name='issues_due_date_first_idx'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(
                    model_name='issue',
                    constraint=models.CheckConstraint(condition=models.Q(('priority__in', ['none', 'low', 'medium', 'high', 'urgent'])), name='issues_priority_valid'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'ALTER TABLE "issues" ADD CONSTRAINT "issues_priority_valid" CHECK ({PRIORITY_VALID}) NOT VALID',
                    'ALTER TABLE "issues" DROP CONSTRAINT "issues_priority_valid"',
                ),
                migrations.RunSQL(
                    'ALTER TABLE "issues" VALIDATE CONSTRAINT "issues_priority_valid"',
                    migrations.RunSQL.noop,
                ),
            ],
        ),
    ]

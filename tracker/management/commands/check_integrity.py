"""`manage.py check_integrity`: the database invariants of tracker/integrity.py, each
violation printed, exit status 1 when any invariant is broken (labels on no issue are only a
warning: admins create labels ahead of use)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker import integrity


class Command(BaseCommand):
    help = (
        "Check the database invariants: every issue has exactly one issue_created event, is "
        "closed exactly when resolved_at is set, and has the version of its latest event; no "
        "row points to a missing one. Labels on no issue are reported as a warning. Exits "
        "with status 1 on any violation."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit",
            type=int,
            default=20,
            help="Rows shown per broken invariant (default 20); the count is always exact.",
        )

    def handle(self, *args, limit: int, **options) -> None:
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        broken = 0
        for check in integrity.checks():
            finding = integrity.run_check(check, limit=limit)
            if not finding.total:
                self.stdout.write(f"ok    {check.description}")
                continue
            if check.warning:
                label, style = "WARN ", self.style.WARNING
            else:
                label, style = "FAIL ", self.style.ERROR
                broken += 1
            self.stdout.write(style(f"{label} {check.description}: {finding.total} found"))
            for example in finding.examples:
                self.stdout.write(f"        {example}")
            if finding.total > len(finding.examples):
                self.stdout.write(f"        ... and {finding.total - len(finding.examples)} more")
        if broken:
            raise CommandError(f"{broken} invariant{'s' if broken > 1 else ''} violated.")
        self.stdout.write(self.style.SUCCESS("All invariants hold."))

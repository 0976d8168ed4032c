"""The CSV import module and the import_issues command."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tracker.errors import FileTooLarge, ImportFileError
from tracker.imports import pg_copy
from tracker.imports.rows import FailedRowsReport, ImportResult
from tracker.imports.uploads import check_upload
from tracker.models import Issue, IssueEvent, IssueLabel, Label, User
from tracker.services import issues_import, label_save

from .factories import LabelFactory, UserFactory

pytestmark = pytest.mark.django_db

SEED_CSV = (
    "title,assignee_id,status\n"
    "Login bug,1,open\nPayment issue,2,closed\n,1,open\nInvalid user,999,open\n"
)


def run(text: str | bytes, **kwargs) -> ImportResult:
    data = text.encode() if isinstance(text, str) else text
    return issues_import(io.BytesIO(data), **kwargs)


def errors(result: ImportResult) -> list[dict]:
    return [error.as_dict() for error in result.errors]


@pytest.fixture
def seed_users() -> list[User]:
    """Users 1 and 2 of the seed's example; the sequence moves past them so that users
    made later in the test do not collide."""
    users = [User.objects.create(id=1, name="Alice"), User.objects.create(id=2, name="Bob")]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), "
            "GREATEST(2, (SELECT last_value FROM users_id_seq)))"
        )
    return users


def test_seed_sample_gives_the_seed_summary(seed_users):
    result = run(SEED_CSV)
    assert (result.total_rows, result.created, result.failed) == (4, 2, 2)
    assert [(e["row"], e["error"]) for e in errors(result)] == [
        (3, "Title is required"),
        (4, "Invalid assignee_id"),
    ]
    assert [e.get("field") for e in errors(result)] == ["title", "assignee_id"]
    issues = list(Issue.objects.order_by("id").values_list("title", "assignee_id", "status"))
    assert issues == [("Login bug", 1, "open"), ("Payment issue", 2, "closed")]


def test_created_issues_get_resolved_at_and_an_import_event(seed_users):
    actor = UserFactory.create(name="Importer")
    run(SEED_CSV, actor=actor)
    login, payment = Issue.objects.order_by("id")
    assert login.resolved_at is None
    assert payment.resolved_at is not None
    assert (login.version, payment.version) == (1, 1)
    event = IssueEvent.objects.get(issue=payment)
    assert (event.event, event.source, event.actor) == ("issue_created", "import", actor)
    # The same details as services.issue_create writes.
    assert event.details == {
        "title": "Payment issue",
        "status": "closed",
        "assignee_id": 2,
        "assignee_name": "Bob",
        "labels": [],
        "priority": "none",
        "due_date": None,
    }
    assert IssueEvent.objects.count() == 2


def test_dry_run_validates_everything_and_writes_nothing(seed_users):
    result = run(SEED_CSV + "New label row,,,,\n", dry_run=True)
    assert (result.total_rows, result.created, result.failed, result.dry_run) == (5, 3, 2, True)
    result = run("title,labels\nx,brand-new\n", dry_run=True)
    assert result.created == 1
    assert not Issue.objects.exists()
    assert not IssueEvent.objects.exists()
    assert not Label.objects.exists()


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (",,open", "title", "Title is required"),
        ("   ,,in_progress", "title", "Title is required"),
        (f"{'x' * 256},,", "title", "Title is too long (max 255)"),
        ("ok,abc,", "assignee_id", "Invalid assignee_id"),
        ("ok,1.5,", "assignee_id", "Invalid assignee_id"),
        ("ok,-1,", "assignee_id", "Invalid assignee_id"),
        ("ok,99999999999999999999999,", "assignee_id", "Invalid assignee_id"),
        ("ok,424242,", "assignee_id", "Invalid assignee_id"),
        ("ok,,done", "status", "Invalid status 'done'"),
        ("ok,,Closed", "status", "Invalid status 'Closed'"),
    ],
)
def test_row_errors_use_the_services_messages(row, field, message):
    result = run(f"title,assignee_id,status\n{row}\n")
    assert errors(result) == [{"row": 1, "error": message, "field": field}]
    assert result.failed == 1
    assert not Issue.objects.exists()


def test_a_row_with_several_problems_reports_each_in_column_order():
    result = run("status,assignee_id,title\nnope,999999,\n")
    assert errors(result) == [
        {"row": 1, "error": "Title is required", "field": "title"},
        {"row": 1, "error": "Invalid assignee_id", "field": "assignee_id"},
        {"row": 1, "error": "Invalid status 'nope'", "field": "status"},
    ]
    assert (result.total_rows, result.failed) == (1, 1)


def test_header_matching_ignored_columns_and_defaults():
    alice = UserFactory.create(name="Alice")
    text = (
        f" Title ,ASSIGNEE_ID,Status, Severity ,description,,\nA bug,{alice.pk},,high,  Steps  ,,\n"
    )
    result = run(text)
    assert result.ignored_columns == ["Severity"]
    issue = Issue.objects.get()
    assert (issue.title, issue.assignee_id, issue.status, issue.description) == (
        "A bug",
        alice.pk,
        "open",
        "Steps",
    )


def test_labels_are_split_trimmed_deduplicated_and_reused():
    LabelFactory.create(name="Bug")
    result = run("title,labels\none, bug ; ui;;BUG;\ntwo,ui\nthree,\n")
    assert result.created == 3
    by_title = {
        issue.title: sorted(issue.labels.values_list("name", flat=True))
        for issue in Issue.objects.all()
    }
    assert by_title == {"one": ["Bug", "ui"], "two": ["ui"], "three": []}
    assert Label.objects.count() == 2


def test_a_too_long_label_is_a_row_error():
    result = run(f"title,labels\nok,{'l' * 51}\n")
    assert errors(result) == [
        {"row": 1, "error": f"Label '{'l' * 51}' is too long (max 50)", "field": "labels"}
    ]


def test_real_world_file_shapes():
    text = (
        "\ufefftitle,description,status\r\n"
        '"Comma, inside","Line one\r\nline two",closed\r\n'
        "\r\n"
        ",,\r\n"
        'Back\\slash and "quotes",tab\there,in_progress,,,\r\n'
        "Short row\r\n"
    )
    result = run(text)
    assert (result.total_rows, result.created, result.failed) == (3, 3, 0)
    issues = list(Issue.objects.order_by("id").values_list("title", "description", "status"))
    assert issues == [
        ("Comma, inside", "Line one\nline two", "closed"),
        ('Back\\slash and "quotes"', "tab\there", "in_progress"),
        ("Short row", "", "open"),
    ]


def test_row_numbers_skip_blank_lines_and_the_header():
    result = run("\n\ntitle\n\nfirst\n\n,\n\nthird\n")
    assert result.total_rows == 2
    assert result.created == 2


def test_long_description_is_a_row_error_not_a_reason_to_refuse_the_file():
    # 200,000 characters: past the csv module's default field limit and DESIGN's 65,536.
    result = run(
        b'title,description\nat limit,"' + b"x" * 65_536 + b'"\n'
        b'over limit,"' + b"x" * 200_000 + b'"\n'
    )
    assert (result.created, result.failed) == (1, 1)
    assert errors(result) == [
        {"row": 2, "error": "Description is too long (max 65536)", "field": "description"}
    ]
    assert list(Issue.objects.values_list("title", flat=True)) == ["at limit"]


def test_header_only_file_imports_nothing():
    result = run("title,status\n")
    assert (result.total_rows, result.created, result.failed) == (0, 0, 0)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"\xef\xbb\xbf\r\n\r\n", "empty_file"),
        (b"name,status\nx,open\n", "missing_title_column"),
        (b"title\ncaf\xe9\n", "not_utf8"),
        ("title\nok\n".encode("utf-16"), "not_utf8"),
        (b"PK\x03\x04 workbook", "not_csv"),
        (b"\x7fELF\x00\x00 binary", "not_csv"),
        (b"title\nok\n" + b"a" * 9000 + b"\x00\n", "not_csv"),
        (b'title\n"unterminated\n', "not_csv"),
        (b'title\n"stray" quote\n', "not_csv"),
    ],
)
def test_file_level_problems_raise_and_write_nothing(data, code):
    with pytest.raises(ImportFileError) as exc:
        run(data)
    assert exc.value.code == code
    assert exc.value.status_code == 400
    assert not Issue.objects.exists()


def test_not_utf8_deep_in_the_file_rolls_back_the_rows_before_it():
    data = b"title\n" + b"fine\n" * 50 + b"caf\xe9\n"
    with pytest.raises(ImportFileError) as exc:
        run(data, batch_size=10)
    assert exc.value.code == "not_utf8"
    assert "UTF-8" in exc.value.message
    assert not Issue.objects.exists()


def test_check_upload_refuses_missing_and_oversized_files(settings):
    with pytest.raises(ImportFileError) as exc:
        check_upload(None)
    assert exc.value.code == "no_file"
    settings.TRACKER_IMPORT_MAX_BYTES = 10

    class Upload:
        size = 11

    with pytest.raises(FileTooLarge) as exc:
        check_upload(Upload())
    assert (exc.value.code, exc.value.status_code) == ("file_too_large", 413)


def test_a_failure_midway_leaves_nothing_behind(monkeypatch):
    calls = []
    real = pg_copy.copy_lines

    def failing(table, columns, lines):
        calls.append(table)
        if len(calls) == 4:  # the second batch's issues
            raise RuntimeError("connection lost")
        real(table, columns, lines)

    monkeypatch.setattr(pg_copy, "copy_lines", failing)
    text = "title,labels\n" + "".join(f"issue {n},new-label\n" for n in range(30))
    with pytest.raises(RuntimeError):
        run(text, batch_size=10)
    assert calls[:4] == ["issues", "issue_events", "issue_labels", "issues"]
    assert not Issue.objects.exists()
    assert not IssueEvent.objects.exists()
    assert not IssueLabel.objects.exists()
    assert not Label.objects.exists()


def csv_file(rows: int) -> str:
    users = [UserFactory.create().pk for _ in range(3)]
    lines = [f"issue {n},{users[n % 3]},{'closed' if n % 2 else ''},bug;ui" for n in range(rows)]
    return "title,assignee_id,status,labels\n" + "\n".join(lines) + "\n"


def copies(captured) -> list[str]:
    return [
        q["sql"].split(" (")[0] for q in captured.captured_queries if q["sql"].startswith("COPY")
    ]


def test_queries_grow_with_batches_not_rows(django_assert_max_num_queries):
    small, large = csv_file(50), csv_file(500)
    # One batch: a savepoint and its release, the assignees, the ids, COPY issues and events,
    # the labels (look up, create the missing, look up again), COPY their links, and the
    # events' outboxes' statement (webhook deliveries, notifications) over the batch's events.
    with django_assert_max_num_queries(11) as captured:
        assert run(small).created == 50
    assert copies(captured) == ["COPY issues", "COPY issue_events", "COPY issue_labels"]
    # Ten times the rows, still one batch: the same queries, fewer label look-ups.
    with django_assert_max_num_queries(len(captured.captured_queries)) as captured:
        assert run(large).created == 500
    assert len(copies(captured)) == 3
    # In batches of 100, 500 rows take five batches of three COPY statements each.
    with django_assert_max_num_queries(5 * 6 + 2) as captured:
        assert run(large, batch_size=100).created == 500
    assert len(copies(captured)) == 15
    assert Issue.objects.count() == 1050
    assert IssueEvent.objects.count() == 1050
    assert IssueLabel.objects.count() == 2100


def test_progress_is_reported_per_batch():
    seen = []
    run("title\n" + "x\n" * 25, batch_size=10, progress=lambda rows, done: seen.append(rows))
    assert seen == [10, 20, 25]


def test_error_report_keeps_the_original_columns():
    text = 'Title,Assignee_ID,notes\n,1,"keep, this"\nok,,\nbad,x,\n'
    out = io.StringIO()
    report = FailedRowsReport(out)
    run(text, failed_rows=report)
    assert report.written == 2
    assert out.getvalue().splitlines() == [
        "Title,Assignee_ID,notes,row,error",
        ',1,"keep, this",1,Title is required; Invalid assignee_id',
        "bad,x,,3,Invalid assignee_id",
    ]


# --- The management command.


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "issues.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_command_imports_and_prints_the_summary(tmp_path, seed_users):
    out = io.StringIO()
    call_command("import_issues", str(write(tmp_path, SEED_CSV)), stdout=out)
    text = out.getvalue()
    assert "4 rows read: 2 created, 2 failed" in text
    assert "row 3: Title is required" in text
    assert "row 4: Invalid assignee_id" in text
    assert Issue.objects.count() == 2
    assert set(IssueEvent.objects.values_list("source", flat=True)) == {"import"}


def test_command_dry_run_and_errors_out(tmp_path, seed_users):
    out, errors_path = io.StringIO(), tmp_path / "errors.csv"
    call_command(
        "import_issues",
        str(write(tmp_path, SEED_CSV)),
        "--dry-run",
        "--errors-out",
        str(errors_path),
        stdout=out,
    )
    assert "2 would be created" in out.getvalue()
    assert "nothing was written" in out.getvalue()
    assert not Issue.objects.exists()
    assert errors_path.read_text().splitlines() == [
        "title,assignee_id,status,row,error",
        ",1,open,3,Title is required",
        "Invalid user,999,open,4,Invalid assignee_id",
    ]


def test_command_reports_file_problems_as_command_errors(tmp_path):
    with pytest.raises(CommandError, match="no 'title' column"):
        call_command("import_issues", str(write(tmp_path, "name\nx\n")), stdout=io.StringIO())
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_issues", str(tmp_path / "missing.csv"), stdout=io.StringIO())


FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x")', "\tx"]


def test_failed_rows_are_formula_safe_and_import_back_as_they_were():
    # Each row fails on its status; its title and notes are formulas.
    source = io.StringIO()
    csv.writer(source).writerows(
        [["title", "status", "notes"], *([f, "done", f] for f in FORMULAS)]
    )
    text = source.getvalue()
    out = io.StringIO()
    run(text, failed_rows=FailedRowsReport(out))
    written = list(csv.reader(io.StringIO(out.getvalue())))
    for cells in written[1:]:
        assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert [cells[0] for cells in written[1:]] == [f"'{cell}" for cell in FORMULAS]
    # Fixed (the status) and imported again, the titles are the original text.
    fixed = out.getvalue().replace(",done,", ",open,")
    result = run(fixed)
    assert (result.created, result.failed) == (len(FORMULAS), 0)
    titles = list(Issue.objects.order_by("id").values_list("title", flat=True))
    assert titles == [cell.strip() for cell in FORMULAS]


def test_only_the_guard_in_front_of_a_formula_is_stripped():
    run("title,description\n'hello,'=1+1\n''=2,x\n")
    first, second = Issue.objects.order_by("id")
    assert (first.title, first.description) == ("'hello", "=1+1")
    assert second.title == "'=2"


def test_the_created_event_names_labels_as_they_are_stored():
    label_save(name="Bug")
    run("title,labels\nx,bug;NEW\ny,new\n")
    created = IssueEvent.objects.filter(event="issue_created").order_by("id")
    details = list(created.values_list("details", flat=True))
    assert [d["labels"] for d in details] == [["Bug", "NEW"], ["NEW"]]
    assert set(Label.objects.values_list("name", flat=True)) == {"Bug", "NEW"}

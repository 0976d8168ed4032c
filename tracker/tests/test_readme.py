"""README.md's API examples, run in order against an empty database, must answer what the
README says they answer (see "Reading the examples" there for the `...` convention)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from procrastinate.contrib.django.models import ProcrastinateJob

from tracker.services.import_jobs import TASK_NAME, import_job_run

README = Path(__file__).resolve().parents[2] / "README.md"
ANY = "\0..."  # what `...` becomes in a parsed answer
CLOCK = [  # values that differ on every run: only their shape is compared
    re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?)?"),
    re.compile(r"(\d+ days?, )?\d+:\d\d:\d\d(\.\d+)?"),
]


def api_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## The API\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def examples(section: str) -> tuple[list[tuple[str, int, str]], dict[str, str]]:
    """The (command, status, answer) of every curl in the section's bash blocks, in order,
    and the files the blocks write with `cat > NAME <<'EOF'`."""
    found: list[tuple[str, int, str]] = []
    files: dict[str, str] = {}
    for block in re.findall(r"^```bash\n(.*?)^```$", section, re.M | re.S):
        for name, content in re.findall(r"^cat > (\S+) <<'EOF'\n(.*?^)EOF$", block, re.M | re.S):
            files[name] = content
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("curl "):
                i += 1
                continue
            command = lines[i]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + lines[i]
            i += 1
            answer = re.fullmatch(r"# (\d{3}) (.*)", lines[i]) if i < len(lines) else None
            assert answer, f"README: no `# <status> <answer>` line after {command!r}"
            body = [answer[2]]
            i += 1
            while i < len(lines) and lines[i].startswith("#"):
                body.append(lines[i][1:])
                i += 1
            found.append((command, int(answer[1]), "\n".join(body)))
    return found, files


def parse_answer(text: str):
    """JSON in which `...` stands for left-out members, list elements or values."""
    out: list[str] = []
    stack: list[str] = []
    for token in re.findall(r'"(?:\\.|[^"\\])*"|\.\.\.|[\[\]{}]|[^"\[\]{}.]+|\.', text):
        if token in ("[", "{"):
            stack.append(token)
        elif token in ("]", "}"):
            stack.pop()
        elif token == "...":
            member = stack[-1] == "{" and "".join(out).rstrip().endswith(("{", ","))
            token = f"{json.dumps(ANY)}: null" if member else json.dumps(ANY)
        out.append(token)
    return json.loads("".join(out))


def matches(expected, actual) -> bool:
    if expected == ANY:
        return True
    if isinstance(expected, str) and any(c.fullmatch(expected) for c in CLOCK):
        return isinstance(actual, str) and any(
            c.fullmatch(expected) and c.fullmatch(actual) for c in CLOCK
        )
    if isinstance(expected, dict):
        keys = expected.keys() - {ANY}
        if not isinstance(actual, dict) or not keys <= actual.keys():
            return False
        if ANY not in expected and keys != actual.keys():
            return False
        return all(matches(expected[key], actual[key]) for key in keys)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        if expected and expected[-1] == ANY:
            expected, actual = expected[:-1], actual[: len(expected) - 1]
        if expected and expected[0] == ANY:
            expected = expected[1:]
            actual = actual[len(actual) - len(expected) :] if expected else []
        return len(expected) == len(actual) and all(map(matches, expected, actual))
    return type(expected) is type(actual) and expected == actual


def run(client: Client, command: str, files: dict[str, str]):
    """Sends what the curl command would send: -X, -H, -d and -F name=@file."""
    args = shlex.split(command, comments=True)[1:]
    method: str | None = None
    body: str | None = None
    url = ""
    headers: dict[str, str] = {}
    uploads: dict[str, SimpleUploadedFile] = {}
    while args:
        arg = args.pop(0)
        if arg == "-X":
            method = args.pop(0)
        elif arg == "-H":
            name, _, value = args.pop(0).partition(":")
            headers[name.strip().lower()] = value.strip()
        elif arg == "-d":
            body = args.pop(0)
        elif arg == "-F":
            field, _, name = args.pop(0).partition("=@")
            assert name in files, f"README: {name} is not written by a `cat > {name}` above"
            uploads[field] = SimpleUploadedFile(name, files[name].encode())
        else:
            assert not arg.startswith("-"), f"README: curl option {arg} is not understood here"
            url = arg
    parts = urlsplit(url if "//" in url else f"http://{url}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    method = method or ("POST" if body is not None or uploads else "GET")
    if uploads:
        assert method == "POST", f"README: {command!r} uploads with {method}"
        return client.post(path, uploads, headers=headers)
    content_type = headers.pop("content-type", "application/x-www-form-urlencoded")
    return client.generic(method, path, body or "", content_type=content_type, headers=headers)


def run_queued_imports(done: set[int]) -> None:
    """What a worker does between two commands: run the import jobs queued so far."""
    for job in ProcrastinateJob.objects.filter(task_name=TASK_NAME).exclude(pk__in=done):
        import_job_run(**job.args)
        done.add(job.pk)


def test_answer_convention():
    assert parse_answer('{"id": 1, ...}') == {"id": 1, ANY: None}
    assert parse_answer('[..., {"a": ..., "b": "x..."}]') == [ANY, {"a": ANY, "b": "x..."}]
    assert matches(parse_answer('[{"id": 1, ...}, ...]'), [{"id": 1, "x": 2}, {"id": 2}])
    assert not matches(parse_answer('[{"id": 1, ...}]'), [{"id": 1}, {"id": 2}])
    assert not matches(parse_answer('{"id": 1}'), {"id": 1, "x": 2})
    assert matches("2026-01-08T09:10:00Z", "2031-12-31T23:59:59.123456Z")
    assert not matches("2026-01-08T09:10:00Z", None)
    assert not matches(1, 1.0)


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_readme_examples_answer_as_written(settings):
    settings.TRACKER_REQUIRE_AUTH = False  # the default, which the README's session assumes
    found, files = examples(api_section())
    assert len(found) >= 20, "README: the API examples were not found"
    client = Client()
    ran: set[int] = set()
    for command, status, answer in found:
        run_queued_imports(ran)
        response = run(client, command, files)
        actual = response.json()
        assert (response.status_code, matches(parse_answer(answer), actual)) == (status, True), (
            f"{command}\nREADME: {status} {answer}\nserver: {response.status_code} "
            f"{json.dumps(actual)}"
        )

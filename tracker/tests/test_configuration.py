"""A missing setting stops manage.py and the WSGI server with one sentence, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("command", "exit_status"),
    [
        (["manage.py", "check"], 1),
        (["manage.py", "migrate", "--no-input"], 1),
        # What a server does in each worker; 3 makes gunicorn stop rather than boot workers
        # forever (granian stops on any worker's exit).
        (["-c", "import issuetracker.wsgi"], 3),
    ],
)
def test_missing_secret_key_is_one_sentence_and_a_failure(command, exit_status):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TRACKER_"))}
    # Set but empty, so that a developer's .env (which never overrides the environment)
    # cannot supply a key either.
    env.update(DJANGO_DEBUG="false", DJANGO_SECRET_KEY="")
    result = subprocess.run(
        [sys.executable, *command],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == exit_status
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Configuration error: DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
        "(set DJANGO_DEBUG=true for a local run)."
    ]

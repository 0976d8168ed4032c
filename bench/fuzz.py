"""`make fuzz`: Schemathesis against a live server, in both authentication modes.

    python bench/fuzz.py [--seconds 300] [--mode open|require-auth|require-auth-token]

Three runs: TRACKER_REQUIRE_AUTH off (`open`); on, with requests that carry no credentials
(`require-auth`: every write must answer the 401 that the schema documents, every read must
still work); and on, with a user's API token on every request (`require-auth-token`, so the
writes run too). For each it empties a scratch database, migrates it and adds a few users,
issues, labels and comments, starts the server on a free port of 127.0.0.1 (as `make serve`
does, debug off), waits for /openapi.json, runs `st run` with every check until its share of
the time budget is spent, and stops the server. Exit status: 0 when no run found anything,
1 otherwise (a 5xx, a response the schema does not describe, a documented input refused or
an invalid one accepted).

The budget is FUZZ_SECONDS (or --seconds), 300 by default, split evenly between the runs.
The database is `<name of DATABASE_URL's database>_fuzz` on the same server, dropped and
made again for each run; nothing else is touched. Reports: bench/out/fuzz-<run>/.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUT = ROOT / "bench" / "out"
CONFIG = ROOT / "bench" / "schemathesis.toml"
# Run name: (TRACKER_REQUIRE_AUTH, whether requests carry the seeded user's token).
MODES = {
    "open": ("false", False),
    "require-auth": ("true", False),
    "require-auth-token": ("true", True),
}

SEED = """
from tracker import services
people = [services.user_create(name=name) for name in ("Alice", "Bob", "Chandra")]
for n in range(12):
    issue = services.issue_create(
        title=f"Seeded issue {n}",
        description="Steps to reproduce",
        status=("open", "in_progress", "closed")[n % 3],
        assignee_id=people[n % 3].pk,
        labels=["bug"] if n % 2 else ["docs", "ui"],
    )
    services.comment_add(issue_id=issue.pk, body=f"Comment on {n}", author_id=people[0].pk)
from rest_framework.authtoken.models import Token
print(Token.objects.create(user=people[0]).key)
"""


def scratch_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/issuetracker")
    server, name = base.rsplit("/", 1)
    return f"{server}/{name.split('?')[0]}_fuzz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(require_auth: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": scratch_database_url(),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_STATIC_MANIFEST": "false",
        "TRACKER_REQUIRE_AUTH": require_auth,
        "LOG_LEVEL": "ERROR",  # 5xx tracebacks, not a line per refused request
    }


def prepare_database(env: dict[str, str]) -> str:
    """A new scratch database, migrated, with a few rows for the path parameters to find;
    returns the API token of its first user."""
    import psycopg
    from psycopg import sql

    url = env["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin = psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)
    with admin.cursor() as cursor:
        database = sql.Identifier(name)
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(database))
    admin.close()
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True)
    seeded = subprocess.run(
        [*manage, "shell", "-v", "0", "-c", SEED],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return seeded.stdout.split()[-1]


def wait_for(url: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def fuzz(mode: str, seconds: int) -> int:
    """One run of Schemathesis against a fresh server in `mode`; its exit status."""
    require_auth, with_token = MODES[mode]
    env = server_env(require_auth)
    token = prepare_database(env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            *(str(BIN / "granian"), "--interface", "asgi", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", "2", "--loop", "uvloop", "--no-ws"),
            *("--log-level", "warning", "issuetracker.serving:application"),
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    report_dir = OUT / f"fuzz-{mode}"
    try:
        wait_for(f"{base}/openapi.json", server)
        credentials = ", every request with a user's token" if with_token else ""
        print(
            f"\n=== {mode}: TRACKER_REQUIRE_AUTH={require_auth}{credentials}, {seconds} s, {base}",
            flush=True,
        )
        return subprocess.run(
            [
                str(BIN / "st"),
                "--config-file",
                str(CONFIG),
                "run",
                f"{base}/openapi.json",
                "--checks",
                "all",
                "--max-time",
                str(seconds),
                "--workers",
                "2",
                "--request-timeout",
                "30",
                "--report",
                "junit,ndjson",
                "--report-dir",
                str(report_dir),
                *(["--header", f"Authorization: Token {token}"] if with_token else []),
            ],
            cwd=ROOT,
            env={**os.environ, "SCHEMATHESIS_HOOKS": str(ROOT / "bench" / "fuzz_checks.py")},
        ).returncode
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seconds",
        type=int,
        default=int(os.environ.get("FUZZ_SECONDS", "300")),
        help="total time budget, split between the runs (default FUZZ_SECONDS or 300)",
    )
    parser.add_argument("--mode", choices=list(MODES), help="only this run")
    args = parser.parse_args()
    modes = [args.mode] if args.mode else list(MODES)
    share = max(args.seconds // len(modes), 1)
    results = {mode: fuzz(mode, share) for mode in modes}
    print()
    for mode, status in results.items():
        print(f"fuzz {mode}: {'passed' if status == 0 else f'FAILED (st exit status {status})'}")
    sys.exit(0 if not any(results.values()) else 1)


if __name__ == "__main__":
    main()

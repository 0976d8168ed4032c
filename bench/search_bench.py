"""`make bench-search`: full-text search (`q`) and the CSV export at a million issues and two
million comments.

    python bench/search_bench.py [--issues 1000000] [--comments 2000000]

Fills the scratch database `issuetracker_bench_search` (on DATABASE_URL's server) inside
PostgreSQL, with words drawn from a vocabulary of 5,000 (a few common, most rare):
`flamingo` in 20 descriptions and `pelican` in 20 comments (rare), `error` in 30% of the
descriptions (common). Then times the first page
of `GET /issues?q=...` (100 issues, JSON, through Django in this process) and of the list
page, median of 7 runs after one warm-up, beside the same list without `q`; then streams
the CSV export of every issue and of a common word's matches (first byte, total, how much
this process's peak memory grew).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/issuetracker")
os.environ["DATABASE_URL"] = base.rsplit("/", 1)[0] + "/issuetracker_bench_search"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
os.environ["DJANGO_DEBUG"] = "false"
os.environ.setdefault("DJANGO_STATIC_MANIFEST", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-key")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,testserver")

WORDS = [
    "login",
    "page",
    "crash",
    "timeout",
    "export",
    "import",
    "report",
    "user",
    "admin",
    "label",
    "comment",
    "worker",
    "queue",
    "database",
    "index",
    "cache",
    "session",
    "token",
    "browser",
    "mobile",
    "payment",
    "invoice",
    "checkout",
    "cart",
    "search",
    "filter",
    "sort",
    "page",
    "layout",
    "button",
    "form",
    "field",
    "upload",
    "download",
    "email",
    "webhook",
    "retry",
    "delay",
    "slow",
    "fast",
    "memory",
    "leak",
    "thread",
    "lock",
    "deadlock",
    "migration",
    "schema",
    "column",
    "table",
    "row",
    "query",
]

FILL = """
TRUNCATE issue_events, issue_labels, comments, issues RESTART IDENTITY CASCADE;
DROP INDEX IF EXISTS issues_search_idx;
ALTER TABLE comments DISABLE TRIGGER comments_search_insert;
SELECT setseed(0.42);
CREATE TEMP TABLE vocabulary AS
  SELECT %(words)s::text[] || ARRAY(SELECT 'w' || n FROM generate_series(1, 5000) n) AS w;
INSERT INTO issues (title, description, status, version, created_at, updated_at, resolved_at)
SELECT initcap(w[1 + g %% 47]) || ' ' || w[1 + (g / 47) %% 47] || ' on ' || w[1 + (g / 7) %% 47],
       CASE WHEN g %% 10 < 3 THEN 'error: ' ELSE '' END
       || CASE WHEN g %% 50000 = 7 THEN 'a flamingo in the ' ELSE '' END
       || array_to_string(ARRAY(
            SELECT w[1 + floor(5050 * power(random(), 3) + k * 0)::int]
              FROM generate_series(1, 30) k), ' '),
       CASE g %% 3 WHEN 0 THEN 'open' WHEN 1 THEN 'in_progress' ELSE 'closed' END,
       1, now(), now(), CASE WHEN g %% 3 = 2 THEN now() END
  FROM generate_series(1, %(issues)s) g, vocabulary;
INSERT INTO users (name, date_joined, is_staff, is_active, is_superuser, password)
SELECT 'Bench user', now(), false, true, false, '' WHERE NOT EXISTS (SELECT 1 FROM users);
INSERT INTO comments (body, issue_id, author_id, created_at)
SELECT CASE WHEN g %% 100000 = 11 THEN 'saw a pelican ' ELSE '' END
       || array_to_string(ARRAY(
            SELECT w[1 + floor(5050 * power(random(), 3) + k * 0)::int]
              FROM generate_series(1, 12) k), ' '),
       1 + g %% %(issues)s, (SELECT min(id) FROM users), now()
  FROM generate_series(1, %(comments)s) g, vocabulary;
ALTER TABLE comments ENABLE TRIGGER comments_search_insert;
UPDATE issues SET comments_search = parts.vector
  FROM (SELECT issue_id,
               setweight(to_tsvector('english', string_agg(body, ' ' ORDER BY id)), 'C') AS vector
          FROM comments GROUP BY issue_id) AS parts
 WHERE issues.id = parts.issue_id;
CREATE INDEX issues_search_idx ON issues USING gin (search);
VACUUM ANALYZE issues;
VACUUM ANALYZE comments;
"""


def median_ms(call, runs: int = 7) -> float:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--comments", type=int, default=2_000_000)
    args = parser.parse_args()

    import subprocess

    for command in (["ensure_database"], ["migrate", "--no-input", "-v", "0"]):
        subprocess.run([sys.executable, str(ROOT / "manage.py"), *command], check=True, cwd=ROOT)
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test import Client

    started = time.perf_counter()
    print(f"filling {args.issues:,} issues and {args.comments:,} comments ...", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM issues")
        if cursor.fetchone()[0] != args.issues:
            for statement in FILL.split(";\n"):
                if statement.strip():
                    with transaction.atomic() if "VACUUM" not in statement else _no_atomic():
                        cursor.execute(
                            statement,
                            {"issues": args.issues, "comments": args.comments, "words": WORDS},
                        )
    print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)

    client = Client()
    api = {
        "no q (baseline)": "/issues?per_page=100",
        "rare word, description (flamingo)": "/issues?per_page=100&q=flamingo",
        "rare word, comment (pelican)": "/issues?per_page=100&q=pelican",
        "common word (error, 30%)": "/issues?per_page=100&q=error",
        "two words (error timeout)": "/issues?per_page=100&q=error+timeout",
        'phrase ("error: login")': "/issues?per_page=100&q=%22error+login%22",
        "common word by relevance": "/issues?per_page=100&q=error&ordering=relevance",
        "rare word by relevance": "/issues?per_page=100&q=flamingo&ordering=relevance",
    }
    print(f"\nSearch, first page of 100 at {args.issues:,} issues and {args.comments:,} comments")
    print("(median of 7 runs, through Django; goal: rare < 50 ms, common < 200 ms)")
    for name, url in api.items():

        def get(url: str = url) -> None:
            response = client.get(url, HTTP_ACCEPT="application/json")
            assert response.status_code == 200, response.content[:300]

        print(f"  GET {name:<36}: {median_ms(get):8.1f} ms", flush=True)
    for name, url in {
        "list page, no q": "/ui/issues/",
        "list page, q=flamingo": "/ui/issues/?q=flamingo",
        "list page, q=error": "/ui/issues/?q=error",
    }.items():

        def page(url: str = url) -> None:
            assert client.get(url).status_code == 200

        print(f"  {name:<40}: {median_ms(page):8.1f} ms", flush=True)

    import resource

    for name, url in {
        "all issues": "/issues/export",
        "q=error (30%)": "/issues/export?q=error",
    }.items():
        before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        response = client.get(url)
        chunks = iter(response.streaming_content)
        first = next(chunks)
        first_byte = time.perf_counter() - started
        size, rows = len(first), first.count(b"\n")
        for chunk in chunks:
            size += len(chunk)
            rows += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
        print(
            f"  export, {name:<16}: first byte {first_byte * 1000:6.0f} ms, {rows - 1:>9,} rows"
            f" ({size / 1e6:.0f} MB) in {elapsed:5.1f} s, peak memory grew {grown_mb:.0f} MB",
            flush=True,
        )


class _no_atomic:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()

"""Markdown rendering time on pathological input, at two sizes, so that a renderer that goes
quadratic on some construct shows up as a ratio far above 10 (10x the input).

    python bench/markdown_bench.py [--size 6000] [--repeat 3]

Each line: the construct, the best of `--repeat` renders at SIZE and at 10x SIZE characters
(capped at the field's 65,536), and their ratio. Plain prose is the baseline: its ratio is
what linear looks like on this machine. Nothing is cached and no database is needed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")

import django

django.setup()

from tracker.markdown import render  # noqa: E402
from tracker.rules import TEXT_MAX  # noqa: E402

CONSTRUCTS = {
    "prose (baseline)": "The quick brown fox jumps over the lazy dog. ",
    "*": "*",
    "[": "[",
    "_": "_",
    "`": "`",
    "*a": "*a",
    "**a ": "**a ",
    "[a](": "[a](",
    "![": "![",
    "<": "<",
    "> (nesting)": "> ",
    "- (nesting)": "- ",
    "|": "|",
    "#1 refs": "#1 ",
    "urls": "https://example.com/a ",
    "table rows": "| a | b |\n|---|---|\n",
}


def best(text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        render(text)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    small, large = args.size, min(args.size * 10, TEXT_MAX)
    print(f"{'construct':18} {small:>8} chars {large:>8} chars  ratio (x{large / small:.1f} input)")
    for name, unit in CONSTRUCTS.items():
        one = best((unit * (small // len(unit) + 1))[:small], args.repeat)
        ten = best((unit * (large // len(unit) + 1))[:large], args.repeat)
        print(f"{name:18} {one * 1000:10.1f} ms {ten * 1000:10.1f} ms  {ten / one:6.1f}")


if __name__ == "__main__":
    main()

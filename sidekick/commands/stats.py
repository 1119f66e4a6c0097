"""`sidekick stats`: what the usage store recorded: runs and success by day, framework and category; tools;
stop reasons; failure modes; tokens. `--json` for scripts, `--chart PATH` for a PNG (matplotlib, the eval extra)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sidekick.commands import EXIT_CONFIG, EXIT_OK, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", default="7d", help="how far back: 7d (default), 24h, 30m, 2w, or a date "
                                                      "like 2025-06-01")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--chart", metavar="PATH", help="also draw runs per day and success rate as a PNG")
    parser.add_argument("--db", metavar="PATH", help="the usage database (default $SIDEKICK_USAGE_DB, else "
                                                     "$XDG_STATE_HOME/sidekick/usage.db)")


def main(args: argparse.Namespace) -> int:
    from sidekick.usage import db_path, enabled
    from sidekick.usage.stats import chart, collect, parse_since, render

    try:
        since = parse_since(args.since)
    except ValueError as exc:
        print(f"sidekick stats: --since: {exc}", file=sys.stderr)
        return EXIT_USAGE
    path = Path(args.db).expanduser() if args.db else db_path()
    try:
        stats = collect(path, since)
    except Exception as exc:  # sqlite3.DatabaseError: not a database, or locked past the timeout
        print(f"sidekick stats: cannot read {path}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.chart:
        try:
            chart(stats, Path(args.chart))
        except ImportError:
            print("sidekick stats: --chart needs matplotlib: pip install 'eliza-sidekick[eval]'", file=sys.stderr)
            return EXIT_CONFIG
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        if not enabled():
            print("(SIDEKICK_USAGE is off: new runs are not recorded)", file=sys.stderr)
        print(render(stats))
        if args.chart:
            print(f"\nChart: {args.chart}")
    return EXIT_OK

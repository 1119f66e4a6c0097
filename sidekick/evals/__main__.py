"""`python -m sidekick.evals …`: the same as `sidekick eval …`."""

from sidekick.evals.cli import build_parser, main

raise SystemExit(main(build_parser().parse_args()))

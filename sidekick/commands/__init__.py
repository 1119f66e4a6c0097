"""The terminal commands of `sidekick` (run, tools, doctor, demo). Exit codes scripts can rely on."""

EXIT_OK = 0
EXIT_RUN_FAILED = 1  # the run ended with stopReason "error", or doctor found a problem
EXIT_USAGE = 2  # bad command line (argparse's own code)
EXIT_STOPPED = 3  # the run hit a limit: max_steps, timeout or token_budget
EXIT_CONFIG = 4  # no usable model configuration

"""Runs a ruleset (anything with `handle` and `EVENTS`) over its inputs, with
no printing and no argument parsing, so the CLI, replay and serve share it.
Never imports the compiler: a vendored compiled module is enough."""

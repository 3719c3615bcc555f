"""The ppdsl command line: one module per command, and the import-light
fast path for `run` (fast_run.py)."""

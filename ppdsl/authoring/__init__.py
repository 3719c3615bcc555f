"""The tools a person uses while writing flows: graph (and, to come, fmt, test, explain)."""

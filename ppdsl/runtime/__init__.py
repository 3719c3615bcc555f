"""The runtime every compiled module carries. It is standard-library Python
and imports nothing from ppdsl: the code generator pastes the part of each
module below its `# --- runtime ---` line into the output, in PARTS order,
so that a compiled module is one self-contained file. Above that line, each
part imports what it uses from the others, so the parts also run (and are
tested) as ordinary modules."""

PARTS = ("common", "values", "actions", "events")
MARKER = "# --- runtime ---\n"

"""Text that is safe to print: hostile input (file names, source lines, event
data from browsers) must not drive the user's terminal. No imports, so the
import-light `ppdsl run` path can use it."""


def printable(text: str, keep: str = "\t") -> str:
    """Show control characters as U+FFFD, except those in `keep`."""
    if text.isprintable():
        return text
    return "".join(ch if ch in keep or ch.isprintable() else "\ufffd" for ch in text)

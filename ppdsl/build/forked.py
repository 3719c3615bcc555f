"""A helper process for work on big inputs that splits in two: one part runs
in a forked copy of this process, which sends its result back through a pipe
while this process does the other part. Linux only, and only while this
process runs no other thread (forking one that does can deadlock)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, Optional


class HelperFailed(Exception):
    """The helper ended without doing its part."""


def available() -> bool:
    """Linux, and a single thread: one that Python's threading module didn't
    start counts too (pytest-xdist's workers have one)."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


@contextmanager
def helper(work: Callable[[BinaryIO], None]) -> Iterator[Optional[BinaryIO]]:
    """Run work(out) in a forked process and yield the file its output
    arrives on, or None when no helper can start. Leaving the block waits
    for the helper, or kills it if the block failed; a helper that failed
    raises HelperFailed (reading its output may fail first: EOFError)."""
    if not available():
        yield None
        return
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        yield None
        return
    if pid == 0:  # the helper: never returns
        status = 1
        try:
            os.close(read)
            with os.fdopen(write, "wb") as out:
                work(out)
            status = 0
        finally:
            os._exit(status)  # no atexit handlers, no flushing this process's buffers twice
    os.close(write)
    done = False
    try:
        with os.fdopen(read, "rb") as pipe:
            yield pipe
        status = os.waitpid(pid, 0)[1]
        done = True
        if os.waitstatus_to_exitcode(status) != 0:
            raise HelperFailed(f"the helper process exited with {os.waitstatus_to_exitcode(status)}")
    finally:
        if not done:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)

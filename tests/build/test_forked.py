"""A big generated module is compiled in pieces, half of them by a forked
helper process (ppdsl/build/forked.py). Whatever the helper does, the code is
that of one process, and no child process is left behind. Fork is safe only
in a process without other threads, so these run in a fresh interpreter (a
pytest-xdist worker has a thread: there the helper never starts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import marshal, os, sys
sys.path.insert(0, sys.argv[1])
from test_big_files import big_file
from ppdsl.build import cache, forked
from ppdsl.build.pipeline import compile_source

def shape(pieces):
    return [(c.co_name, c.co_firstlineno) for p in pieces for c in p.co_consts if hasattr(c, "co_code")]

cache.PIECE_LINES = 500
module = compile_source(big_file(300), "big.ppflow").code
assert forked.available()
started = []
real_fork = os.fork
os.fork = lambda: started.append(1) or real_fork()
two = cache.compile_module(module, "big.py")
assert started, "no helper"
os.fork = real_fork
forked.available = lambda: False
one = cache.compile_module(module, "big.py")
assert len(two) > 5 and shape(two) == shape(one)
forked.available = lambda: True

def broken(how):
    def dump(value, out):
        if how == "exit":
            os._exit(3)
        if how == "garbage":
            out.write(b"not marshal")
        if how == "raise":
            raise RuntimeError("the helper's part failed")
    return dump

real_dump = marshal.dump
for how in ("exit", "garbage", "raise"):
    marshal.dump = broken(how)  # in the helper only: this process loads
    assert shape(cache.compile_module(module, "big.py")) == shape(one), how
    marshal.dump = real_dump
    try:
        os.waitpid(-1, os.WNOHANG)
        raise AssertionError("a child process is left")
    except ChildProcessError:
        pass
print("ok")
"""


def test_the_helper_gives_one_process_code_and_fails_safely():
    if not hasattr(os, "fork") or sys.platform != "linux":
        pytest.skip("the helper needs fork (Linux)")
    here = str(Path(__file__).parents[1] / "lang")
    done = subprocess.run([sys.executable, "-c", SCRIPT, here], capture_output=True, text=True, timeout=300)
    assert done.stdout == "ok\n", done.stderr


def test_no_helper_in_a_process_with_threads():
    import threading

    from ppdsl.build import forked

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forked.available()
        with forked.helper(lambda out: None) as pipe:
            assert pipe is None
    finally:
        stop.set()
        thread.join()

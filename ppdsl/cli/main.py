"""The console-script entry point. `ppdsl run` with plain arguments goes
straight to the fast path (fast_run.py), so a cached run never imports click;
everything else goes through the click commands in app.py. No traceback ever
reaches the user."""

import gc
import sys

ONE_SHOT = ("check", "compile", "graph", "run")  # commands that read a few files and end


def main() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    # The IR of a big file is millions of objects, and the cyclic collector
    # would walk them again after the compile and once more at exit (a third
    # of the CPU time for 25,000 flows). The one-shot commands make almost no
    # cyclic garbage: they run without it, and objects frozen at the end are
    # left out of the collection at exit.
    one_shot = sys.argv[1:2] != [] and sys.argv[1] in ONE_SHOT
    if one_shot:
        gc.disable()
    try:
        if sys.argv[1:2] == ["run"]:
            from .fast_run import fast_run

            code = fast_run(sys.argv[2:])
            if code is not None:
                sys.exit(code)
        from .app import main as click_main

        click_main(prog_name="ppdsl")
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (ppdsl run ... | head)
        sys.exit(1)
    except RecursionError:
        print("error: the input is nested too deeply to process", file=sys.stderr)
        sys.exit(1)
    finally:
        if one_shot:
            gc.freeze()

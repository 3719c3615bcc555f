"""The console-script entry point. `ppdsl run` with plain arguments goes
straight to the fast path (fast_run.py), so a cached run never imports click;
everything else goes through the click commands in app.py. No traceback ever
reaches the user."""

import sys


def main() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
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

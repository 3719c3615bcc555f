"""`ppdsl serve` before the server starts: a missing extra, a flow with
errors, bad options; each is one message and no traceback."""

from __future__ import annotations

from click.testing import CliRunner
from serving import LEAD

import ppdsl.serve
from ppdsl.cli.app import main


def run(*args: str):
    return CliRunner().invoke(main, ["serve", *args])


def test_a_missing_extra_names_it_in_one_line(monkeypatch):
    monkeypatch.setattr(ppdsl.serve, "missing_extra", lambda: "starlette")
    result = run(str(LEAD), "--store", "memory:")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: ppdsl serve needs the serve extra (starlette is missing): pip install 'ppdsl[serve]'"
    )


def test_a_flow_with_errors_prints_its_diagnostics(tmp_path):
    flow = tmp_path / "bad.ppflow"
    flow.write_text("flow f { on event nope -> end }\n")
    result = run(str(flow))
    assert result.exit_code == 1 and "bad.ppflow:1:" in result.output and "Traceback" not in result.output


def test_bad_options_are_usage_errors(tmp_path):
    for args, words in (
        (["--rate-limit", "fast"], "--rate-limit"),
        (["--rate-limit", "0/s"], "--rate-limit"),
        (["--webhook-secret", "x"], "--webhook URL"),
        (["--webhook", "ftp://x"], "http://"),
        (["--workers", "2", "--store", "memory:"], "shared store"),
        (["--store", str(tmp_path / "no" / "such" / "x.db")], "doesn't exist"),
    ):
        store = [] if "--store" in args else ["--store", "memory:"]
        result = run(str(LEAD), *store, *args)
        assert result.exit_code == 2 and words in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_the_default_store_is_visitors_db_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(str(LEAD), "--webhook", "ftp://x")  # stops after the store is opened
    assert result.exit_code == 2 and (tmp_path / "visitors.db").is_file()


def test_rate_notation():
    from ppdsl.cli.serve import rate_notation

    assert rate_notation("100/s") == "100/second" and rate_notation("5 / min") == "5/minute"

"""Diagnostics of the parser and checker, as data: every `NAME.ppflow` in
tests/cases/diagnostics is paired with `NAME.expected`, the exact stdout of
`ppdsl check NAME.ppflow` run from inside that folder. `pytest --update`
rewrites the expected files from the current output.

The corpus runs in-process through click's CliRunner to stay fast; the
focused tests below cover what a corpus can't: ordering across one file,
usage errors, the library API and `textx check`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import ppdsl
from ppdsl.cli.app import main

CORPUS = Path(__file__).resolve().parents[1] / "cases" / "diagnostics"
CASE_FILES = sorted(CORPUS.glob("*.ppflow"))
HEADLINE = re.compile(
    r"^(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>[EW]\d{3})\]: ", re.M
)


def check_in(folder: Path, *args: str, monkeypatch: pytest.MonkeyPatch):
    """`ppdsl check ARGS` in-process, with `folder` as the working directory."""
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(main, ["check", *args], prog_name="ppdsl")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"ppdsl check {' '.join(args)} crashed:\n{result.output}") from result.exception
    return result


def headlines(text: str) -> list[tuple[int, int, str, str]]:
    return [(int(m["line"]), int(m["col"]), m["sev"], m["code"]) for m in HEADLINE.finditer(text)]


def test_corpus_is_there():
    assert len(CASE_FILES) >= 45
    orphans = {p.stem for p in CORPUS.glob("*.expected")} - {p.stem for p in CASE_FILES}
    assert not orphans, f"expected files without a .ppflow: {sorted(orphans)}"


@pytest.mark.parametrize("case", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_check_output(case: Path, update: bool, monkeypatch: pytest.MonkeyPatch):
    result = check_in(CORPUS, case.name, monkeypatch=monkeypatch)
    expected_file = case.with_suffix(".expected")
    if update:
        expected_file.write_text(result.stdout, encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8")
    assert result.stdout == expected
    has_errors = any(sev == "error" for _, _, sev, _ in headlines(expected))
    assert result.exit_code == (1 if has_errors else 0), result.output


# ---------------------------------------------------------------- focused tests

FIVE_MISTAKES = """\
flow f {
  on event click -> reply alcie "Hi {{ user_fulname }}"
  on event signup -> if count(signup) > "8" reply alice
  on event 3 -> end
}
agent alice
event 1 click
event 2 signup
agent alice
"""
# (line, code) of each mistake, in the order they must be reported
FIVE_EXPECTED = [(2, "E104"), (2, "E101"), (3, "E124"), (4, "E103"), (9, "E106")]


def test_every_mistake_is_reported_in_one_run_sorted_by_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The duplicate agent is found first (declarations are checked before
    # rules) but must be reported last.
    (tmp_path / "five.ppflow").write_text(FIVE_MISTAKES, encoding="utf-8")
    result = check_in(tmp_path, "five.ppflow", monkeypatch=monkeypatch)
    found = headlines(result.stdout)
    assert [(line, code) for line, _, _, code in found] == FIVE_EXPECTED, result.stdout
    assert found == sorted(found)
    assert all(sev == "error" for _, _, sev, _ in found)
    assert result.stdout.rstrip().endswith("five.ppflow: 5 errors, 0 warnings")
    assert result.exit_code == 1


def test_missing_file_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    result = check_in(tmp_path, "no_such_file.ppflow", monkeypatch=monkeypatch)
    assert result.exit_code == 2
    assert "no_such_file.ppflow" in result.output


def test_no_arguments_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    result = check_in(tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 2
    assert "Usage" in result.output


def test_usage_errors_from_the_installed_command(cli, tmp_path: Path):
    missing = cli("check", "no_such_file.ppflow", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no_such_file.ppflow" in missing.stderr
    assert "Traceback" not in missing.stderr
    bare = cli("check", cwd=tmp_path)
    assert bare.returncode == 2
    assert "Traceback" not in bare.stderr


def test_check_reports_each_file_and_fails_if_any_has_errors(monkeypatch: pytest.MonkeyPatch):
    good, bad = "ok_design_card_oneliner.ppflow", "e102_unknown_function.ppflow"
    result = check_in(CORPUS, good, bad, monkeypatch=monkeypatch)
    expected = "".join((CORPUS / name).with_suffix(".expected").read_text(encoding="utf-8") for name in (good, bad))
    assert result.stdout == expected
    assert result.exit_code == 1


def test_load_raises_compile_error_listing_every_error(tmp_path: Path):
    path = tmp_path / "five.ppflow"
    path.write_text(FIVE_MISTAKES, encoding="utf-8")
    with pytest.raises(ppdsl.CompileError) as caught:
        ppdsl.load(path, cache=False)
    diags = caught.value.diagnostics
    assert [(d.line, d.code) for d in diags] == FIVE_EXPECTED
    for d in diags:
        assert isinstance(d, ppdsl.Diagnostic)
        assert d.is_error and d.line >= 1 and d.col >= 1 and d.message
    assert [(d.line, d.col) for d in diags] == [(2, 27), (2, 40), (3, 25), (4, 12), (9, 7)]
    assert str(caught.value).startswith(f"{path}:2:27: unknown agent 'alcie'")


def test_load_of_a_file_with_warnings_only_succeeds(tmp_path: Path):
    path = tmp_path / "warn.ppflow"
    path.write_text("agent alice\nagent bob\non event 1 -> reply alice\non event 1 -> end\n", encoding="utf-8")
    rules = ppdsl.load(path, cache=False)
    assert callable(rules.handle)


def test_load_of_undecodable_file_raises_compile_error(tmp_path: Path):
    path = tmp_path / "latin1.ppflow"
    path.write_bytes(b'on event 1 -> reply agent_a "caf\xe9"\n')
    with pytest.raises(ppdsl.CompileError) as caught:
        ppdsl.load(path, cache=False)
    [diag] = caught.value.diagnostics
    assert (diag.code, diag.line, diag.col) == ("E004", 1, 33)


def test_else_and_on_failure_bind_to_the_nearest_statement():
    rules = ppdsl.load(CORPUS / "ok_else_binds_nearest.ppflow", cache=False)
    event = {"event_seq": 1, "event_timestamp": 1795593600}
    # outer condition false: an else bound to the outer if would reply agent_b
    outer_false = rules.handle(event, {})
    assert outer_false["actions"] == [] and outer_false["failed"] == []
    # outer true, inner false: the inner if's else replies agent_b; when that
    # fails, its own handler replies agent_c, whose handler ends the flow
    visitor = {"event_count_1": 5}
    result = rules.handle(event, visitor, lambda action: action.get("agent") not in ("agent_b", "agent_c"))
    assert [a["agent"] for a in result["failed"]] == ["agent_b", "agent_c"]
    assert result["actions"] == []


def _textx_command() -> list[str] | None:
    beside = Path(sys.executable).parent / "textx"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("textx")
    return [found] if found else None


@pytest.mark.skipif(_textx_command() is None, reason="the textx command is not installed")
def test_textx_check_runs_the_ppdsl_checker():
    textx = _textx_command()
    assert textx is not None
    good = subprocess.run(
        [*textx, "check", "ok_full_example.ppflow"], cwd=CORPUS, capture_output=True, text=True, timeout=120
    )
    assert good.returncode == 0, good.stdout + good.stderr
    # a syntax error, and a file that parses but fails the semantic checks
    for name in ("e001_missing_arrow.ppflow", "e103_event_name_did_you_mean.ppflow"):
        bad = subprocess.run([*textx, "check", name], cwd=CORPUS, capture_output=True, text=True, timeout=120)
        assert bad.returncode != 0, f"textx check {name} passed:\n{bad.stdout}{bad.stderr}"
        assert "Traceback" not in bad.stderr
    semantic = subprocess.run(
        [*textx, "check", "e103_event_name_did_you_mean.ppflow"],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "sigup" in semantic.stdout + semantic.stderr

"""`ppdsl explain CODE` (ppdsl/lang/explanations.py): every code of the
message registry has an entry, each entry's bad example gives exactly its
code and its good example none of it and no error, and the command prints
them."""

from __future__ import annotations

import pytest

import ppdsl
from ppdsl.lang import messages as m
from ppdsl.lang.explanations import EXPLANATIONS


def codes_of(tmp_path, text: str, encoding: str = "utf-8") -> list[ppdsl.Diagnostic]:
    path = tmp_path / "example.ppflow"
    path.write_bytes(text.encode(encoding))
    return ppdsl.check_file(path)


def test_every_code_has_an_entry_and_nothing_else_does():
    assert list(EXPLANATIONS) == list(m.CODES)
    assert all(key == e.code for key, e in EXPLANATIONS.items())


@pytest.mark.parametrize("code", m.CODES)
def test_an_entry_has_every_part(code):
    e = EXPLANATIONS[code]
    assert e.title and "\n" not in e.title and len(e.title) <= 80
    assert e.text and e.fix
    assert e.bad.endswith("\n") and e.good.endswith("\n")
    assert e.bad != e.good or e.bad_encoding != "utf-8"


@pytest.mark.parametrize("code", m.CODES)
def test_the_bad_example_gives_exactly_its_code(tmp_path, code):
    e = EXPLANATIONS[code]
    found = [d.code for d in codes_of(tmp_path, e.bad, e.bad_encoding)]
    assert code in found
    assert set(found) == {code, *e.also}, [(d.code, d.message) for d in codes_of(tmp_path, e.bad, e.bad_encoding)]


@pytest.mark.parametrize("code", m.CODES)
def test_the_good_example_has_no_error_and_not_the_code(tmp_path, code):
    diags = codes_of(tmp_path, EXPLANATIONS[code].good)
    assert [d for d in diags if d.is_error or d.code == code] == []


def test_only_e110_needs_other_codes():
    # a ninth event has no number left: it is out of range or a duplicate as well
    assert {code: e.also for code, e in EXPLANATIONS.items() if e.also} == {"E110": ("E109",)}


def test_cli_explains_a_code(cli):
    proc = cli("explain", "E103")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    e = EXPLANATIONS["E103"]
    assert out.startswith("E103 (error): unknown event\n")
    assert e.text in out and f"Fix: {e.fix}" in out
    for line in e.bad.splitlines() + e.good.splitlines():
        assert "    " + line in out
    assert "example.ppflow:3:17: error[E103]: unknown event 'sign_up'" in out  # what check says, live
    assert "= help: did you mean 'signup'?" in out


def test_cli_takes_a_code_in_lower_case(cli):
    proc = cli("explain", "w204")
    assert proc.returncode == 0
    assert proc.stdout.startswith("W204 (warning): ")


def test_cli_explains_the_not_utf8_example(cli):
    proc = cli("explain", "E004")
    assert proc.returncode == 0
    assert "Example (saved as GBK):" in proc.stdout
    assert "error[E004]: the file is not valid UTF-8 text" in proc.stdout


def test_cli_never_prints_control_characters(cli):
    proc = cli("explain", "W205")
    assert proc.returncode == 0
    assert "\f" not in proc.stdout
    assert "warning[W205]: a form feed in a comment" in proc.stdout


def test_cli_unknown_code_exits_2_with_the_codes(cli):
    proc = cli("explain", "E999")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "unknown code 'E999'" in proc.stderr
    assert ", ".join(m.CODES) in proc.stderr


def test_cli_lists_every_code_with_its_title(cli):
    proc = cli("explain")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    for e in EXPLANATIONS.values():
        assert f"{e.code}  {m.SEVERITY[e.code]:<7}  {e.title}" in lines

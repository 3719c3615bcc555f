"""grammar/ppflow.tx is the one source of the syntax: the keywords, the string
pattern and the template start rule are read from it, and the copy that
ships inside the package is the one used."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textx import metamodel_for_language

import ppdsl
from ppdsl.lang import source, syntax
from ppdsl.lang.diagnostics import Diagnostic, SyntaxProblem
from ppdsl.lang.lower import parse as parse_source
from ppdsl.lang.span import Source


def parse(text: str):
    return parse_source(Source("<test>", text))


GRAMMAR_FILE = Path(__file__).resolve().parents[2] / "grammar" / "ppflow.tx"
GRAMMAR = GRAMMAR_FILE.read_text(encoding="utf-8")


def rule(name: str) -> str:
    return re.search(rf"^{name}: (.*);$", GRAMMAR, re.M)[1]


def syntax_error(text: str) -> Diagnostic:
    with pytest.raises(SyntaxProblem) as problem:
        parse(text)
    return problem.value.diag


def test_the_keywords_are_the_ones_the_name_rule_refuses():
    refused = re.fullmatch(r"/\(\?!\(([^)]*)\)\\b\).*/", rule("Name"))[1]
    assert syntax.KEYWORDS == set(refused.split("|"))
    assert syntax.NAME.pattern == rule("Name")[1:-1]


@pytest.mark.parametrize("word", sorted(syntax.KEYWORDS))
def test_every_keyword_is_rejected_as_a_name(word: str):
    diag = syntax_error(f"agent {word}\n")
    assert (diag.code, diag.line, diag.col) == ("E001", 1, 7)
    assert diag.message == f"syntax error: expected a name, found '{word}'"
    assert diag.help == f"'{word}' is a keyword and can't be a name; choose another name"


@pytest.mark.parametrize("word", ["events", "iff", "_if", "Event", "nulls", "notin", "in_", "TICKET"])
def test_words_that_only_look_like_keywords_are_names(word: str):
    program, diags = parse(f"agent {word}\n")
    assert diags == []
    assert program.agents[0].name == word


def test_prescan_reads_strings_with_the_grammars_pattern():
    assert source.STRING is syntax.STRING
    assert syntax.STRING.pattern == rule("StringTok")[1:-1]


def test_the_template_start_rule_is_in_the_grammar_file():
    assert rule("Exprs") == "exprs+=Expr[';']"
    assert "Exprs:" not in Path(syntax.__file__).read_text(encoding="utf-8")
    model = syntax.metamodel("Exprs").model_from_str("1; count(2) + 3")
    assert len(model.exprs) == 2


def test_comments_are_a_rule_for_textx_and_blanked_for_ppdsl():
    assert "Comment" not in syntax.metamodel()  # prescan() blanks them
    textx_check = metamodel_for_language("ppflow")
    assert "Comment" in textx_check
    textx_check.model_from_str('# rules\nagent a # the agent\non event 1 -> reply a "hi" # done\n')


def test_statements_start_with_the_words_of_the_stmt_rule():
    assert syntax.STATEMENT_WORDS == ("reply", "assign", "set", "convert", "ticket", "if", "switch", "let", "end")


def test_a_member_after_a_dot_is_described_as_a_name():
    diag = syntax_error('agent a\non event 1 -> if visitor. > 1 reply a "x"\n')
    assert diag.message == "syntax error: expected a name, found '>'"


def test_condition_event_names_follow_the_name_rule():
    assert ppdsl.compile_condition("count(signup) > 1", events={"signup": 3})({"event_count_3": 2})
    with pytest.raises(ValueError, match="'if'"):
        ppdsl.compile_condition("1", events={"if": 3})


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the installed package, whose grammar a test may edit."""
    shutil.copytree(Path(ppdsl.__file__).parent, tmp_path / "ppdsl", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "ppdsl" / "grammar").mkdir(exist_ok=True)
    return tmp_path / "ppdsl" / "grammar" / "ppflow.tx"


def run_with(package: Path, code: str) -> subprocess.CompletedProcess:
    site = package.parents[2]
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=site,
        env={**os.environ, "PYTHONPATH": str(site)},
    )


def test_the_grammar_inside_the_package_is_the_one_used(package_copy: Path):
    package_copy.write_text(GRAMMAR.replace("ticket", "issue"), encoding="utf-8")
    probe = (
        "import ppdsl\n"
        "from ppdsl.build.pipeline import compile_source\n"
        "from ppdsl.lang.syntax import KEYWORDS\n"
        "print(ppdsl.__file__)\n"
        "print('issue' in KEYWORDS, 'ticket' in KEYWORDS)\n"
        "for word in ('issue', 'ticket'):\n"
        "    result = compile_source(f'on event 1 -> {word} \"x\"\\n', 'f.ppflow', emit=False)\n"
        "    print(word, [d.code for d in result.diagnostics])\n"
    )
    out = run_with(package_copy, probe)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        str(package_copy.parents[1] / "__init__.py"),
        "True False",
        "issue []",
        "ticket ['E001']",
    ]


def test_a_grammar_whose_name_rule_lets_a_keyword_through_fails_on_import(package_copy: Path):
    package_copy.write_text(GRAMMAR.replace("|ticket|", "|"), encoding="utf-8")
    out = run_with(package_copy, "import ppdsl.lang.syntax")
    assert out.returncode == 1
    assert "AssertionError: grammar/ppflow.tx: Name must refuse exactly the keywords: ['ticket']" in out.stderr

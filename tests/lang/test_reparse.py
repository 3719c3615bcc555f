"""ppdsl.lang.reparse: parsing a file again after each edit, reusing its
unchanged start, gives exactly what parsing the whole file gives: the same
diagnostics (syntax errors included) and the same checked program."""

from __future__ import annotations

import random
from pathlib import Path

from ppdsl.build.pipeline import Result, compile_source
from ppdsl.lang.diagnostics import to_json
from ppdsl.lang.ir import dump
from ppdsl.lang.reparse import Reparser, cuts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLOWS = "".join((EXAMPLES / name).read_text(encoding="utf-8") for name in ("lead_routing.ppflow", "oneliner.ppflow"))
NEW_FLOW = """flow typed {
  on event click, signup ->
    if count(click) > 3 and user_city == "北京 🎉" or now - last_time(signup) < 10m
      reply agent_a "Hi {{ user_fullname or 'there' }}, {{ count(click) }} times"
    else
      reply agent_b
  on any event -> switch lower(user_language) { case "zh" -> end default -> end }
}
"""


def seen(result: Result) -> tuple:
    diags = [(to_json(d), d.replacement) for d in result.diagnostics]
    return diags, dump(result.program, checked=True) if result.program is not None else None


def same_as_a_whole_parse(texts: list[str]) -> None:
    reparser = Reparser()
    for i, text in enumerate(texts):
        whole = compile_source(text, "t.ppflow", emit=False)
        again = compile_source(text, "t.ppflow", emit=False, reparser=reparser)
        assert seen(again) == seen(whole), f"version {i}: {text!r}"


def test_cuts_at_top_level_keywords_outside_brackets_and_strings():
    text = 'agent a "{ ("\nflow f {\nevent\n}\n  flow\non event 1 -> end\non failure\non any event -> end\n'
    assert [text[c : c + 8] for c in cuts(text)] == ["agent a ", "flow f {", "on event", "on any e"]


def test_typing_a_flow_into_the_middle_of_a_file():
    lines = FLOWS.split("\n")
    middle = next(i for i, line in enumerate(lines) if line.startswith("agent "))
    head, tail = "\n".join(lines[:middle]) + "\n", "\n".join(lines[middle:])
    same_as_a_whole_parse([head + NEW_FLOW[:i] + tail for i in range(len(NEW_FLOW) + 1)])


def test_random_edits_anywhere():
    rng = random.Random(12)
    text, texts = FLOWS, []
    for _ in range(300):
        pos = rng.randrange(len(text) + 1)
        if rng.random() < 0.45 and text:
            text = text[:pos] + text[pos + 1 :]
        else:
            text = text[:pos] + rng.choice(list("ae1{}()[]\n \"'#>=,-.")) + text[pos:]
        if rng.random() < 0.1:
            text = FLOWS  # back to a file that checks, so the next edits reuse its start
        texts.append(text)
    same_as_a_whole_parse(texts)


def test_edits_that_move_a_cut():
    base = "agent alice\nagent bob\non event 1 -> reply alice\n"
    same_as_a_whole_parse(
        [
            base,
            base.replace("agent bob\n", 'agent bob\n"Bob"\n'),  # the next line joins the item before it
            base.replace("\non event", "\n  on event"),  # no longer a cut
            base.replace("agent bob", "on any\nevent"),  # a rule across a cut
            base,
            base + "flow f {\n",  # unclosed: the rest of the file is one chunk
            base.replace("agent alice", "agent alicia"),
            "",
            base,
        ]
    )


def test_the_start_and_the_end_of_the_file_are_reused_and_moved():
    reparser = Reparser()
    first = compile_source(FLOWS, "t.ppflow", emit=False, reparser=reparser).program
    assert first is not None
    flow_line = first.flows[0].name_span.line
    edited = FLOWS.replace('agent agent_b "Bob"', 'agent agent_b "Bob, again"\n\n')
    second = compile_source(edited, "t.ppflow", emit=False, reparser=reparser).program
    assert second is not None
    assert second.events[0] is first.events[0] and second.agents[0] is first.agents[0]
    assert second.agents[1] is not first.agents[1] and second.agents[1].display == "Bob, again"
    assert second.flows[0] is first.flows[0] and second.flows[0].name_span.line == flow_line + 2
    assert second.flows[0].name_span.source.text == edited

"""Helpers shared by the hostile-input tests (tests/security/test_injection.py,
tests/lang/test_hostile_source.py, tests/runtime/test_hostile_events.py,
tests/cli/test_hostile_cli.py, tests/end_to_end/test_fuzz_examples.py):
compile and load without raising, check that user text stays inside string
literals of the generated module, build events, and the junk files and
bracket bombs that more than one layer feeds in."""

from __future__ import annotations

import ast
import io
import json
import random
import re
import tokenize
import types

from ppdsl.build.pipeline import compile_source


T0 = 1795593600  # 2026-11-25T08:00:00Z


LOC_COMMENT = re.compile(r"# [A-Za-z0-9._-]+:[0-9]+")


def compiled(source: str, filename: str = "hostile.ppflow"):
    """compile_source must never raise: it returns diagnostics or code."""
    result = compile_source(source, filename)
    if result.code is not None:
        compile(result.code, "<generated>", "exec")  # whatever it returns is valid Python
        assert not any(d.is_error for d in result.diagnostics)
    else:
        assert any(d.is_error for d in result.diagnostics), "no code and no error"
    return result


def errors(result) -> list[str]:
    return [f"{d.line}:{d.col} {d.code} {d.message}" for d in result.diagnostics if d.is_error]


def module(code: str) -> types.ModuleType:
    mod = types.ModuleType("ppdsl_hostile")
    exec(compile(code, "<hostile>", "exec"), mod.__dict__)
    return mod


def build(source: str, filename: str = "hostile.ppflow") -> tuple[str, types.ModuleType]:
    result = compiled(source, filename)
    assert result.code is not None, errors(result)
    return result.code, module(result.code)


def tokens(code: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(code).readline))


def lit(text: str) -> str:
    """A ppflow string literal whose decoded value is exactly `text`."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) <= 0xFFFF and not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_BENIGN_COMMENTS: set[str] = set()


def runtime_comments() -> set[str]:
    """The comments of a module compiled from innocent source: the runtime's own."""
    if not _BENIGN_COMMENTS:
        code, _ = build("on event 1 -> reply a", "benign.ppflow")
        _BENIGN_COMMENTS.update(
            t.string for t in tokens(code) if t.type == tokenize.COMMENT and not LOC_COMMENT.fullmatch(t.string)
        )
    return _BENIGN_COMMENTS


def assert_contained(code: str, marker: str = "PWN") -> None:
    """User text appears only inside STRING tokens; comments are the runtime's
    own or `# SAFE_FILE_NAME:LINE`; every string literal is a plain literal."""
    assert marker not in runtime_comments()
    for tok in tokens(code):
        if tok.type == tokenize.STRING:
            if re.match(r"[A-Za-z]*[fF]", tok.string):  # the runtime's own f-strings
                assert marker not in tok.string, f"user text inside an f-string: {tok}"
            else:
                ast.literal_eval(tok.string)
            continue
        if tok.type == tokenize.COMMENT and LOC_COMMENT.fullmatch(tok.string):
            continue  # `# FILE:LINE` with the file name reduced to [A-Za-z0-9._-]
        assert marker not in tok.string, f"user text outside a string literal: {tok}"
        if tok.type == tokenize.COMMENT:
            assert tok.string in runtime_comments(), tok
    docstring = ast.get_docstring(ast.parse(code)) or ""
    assert "\r" not in docstring


def short_id(value) -> str:
    try:
        return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))[:50]
    except (ValueError, RecursionError):
        return type(value).__name__


def ev(seq: int = 1, data=None, **more):
    te = {"event_seq": seq, "event_timestamp": T0, **more}
    if data is not None:
        te["event_data"] = data
    return {"track_event": te}


def assert_handles(rules, payload, visitor=None) -> dict | None:
    """`handle` either returns a result or rejects the event with ValueError."""
    try:
        result = rules.handle(payload, visitor)
    except ValueError as exc:
        assert str(exc), "a rejection needs a message"
        return None
    # what ppdsl made is printable as JSON (the visitor may carry the caller's own values)
    json.dumps({k: v for k, v in result.items() if k != "visitor"}, ensure_ascii=False)
    return result


# ----------------------------------------------------------------- hostile inputs


def paren_bomb(levels: int, terms: int) -> str:
    """Each source level costs the checker one level but the emitter three
    Python brackets: `((not _eq(X, 1)) and (not (1 == 1)))`."""
    expr = "+".join(["data.x"] * terms)
    for _ in range(levels):
        expr = f"({expr} != 1 != 1)"
    return expr


BINARY = {
    "random bytes": bytes(random.Random(7).randrange(256) for _ in range(4096)),
    "png header": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00",
    "nul bytes": b"\x00" * 64,
    "nul in a rule": b'on event 1 -> reply a\x00 "x"\n',
    "utf-16 with bom": "on event 1 -> reply a\n".encode("utf-16"),
    "utf-16 be with bom": b"\xfe\xff" + "on event 1 -> reply a\n".encode("utf-16-be"),
    "latin-1": 'on event 1 -> reply a "caf\xe9"\n'.encode("latin-1"),
    "lone continuation byte": b'on event 1 -> reply a "\x80"\n',
    "overlong encoding": b'on event 1 -> reply a "\xc0\xaf"\n',
    "encoded surrogate": b'on event 1 -> reply a "\xed\xa0\x80"\n',
    "truncated utf-8": b'on event 1 -> reply a "\xe4\xb8',
    "escape sequences": b"\x1b[2J\x1b]0;title\x07on event 1 -> reply a\n",
}

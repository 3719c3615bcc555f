"""`ppdsl lsp` end to end: a real client speaks JSON-RPC over stdio to the real
server in a subprocess (pytest-lsp), for every feature."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

# pytest-lsp (Python 3.10 and newer) and the lsp extra: without them these tests skip
pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types as t  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "ppdsl", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(t.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


class Doc:
    """An open document: its URI, text and version, and what the server published for it."""

    def __init__(self, client: LanguageClient, path: Path, text: str):
        self.client, self.uri, self.text, self.version = client, path.as_uri(), text, 1

    async def open(self) -> list[t.Diagnostic]:
        item = t.TextDocumentItem(uri=self.uri, language_id="ppflow", version=1, text=self.text)
        return await self._published(lambda: self.client.text_document_did_open(t.DidOpenTextDocumentParams(item)))

    async def replace(self, text: str) -> list[t.Diagnostic]:
        """Send the whole new text as one change, and wait for its diagnostics."""
        self.text, self.version = text, self.version + 1
        change = t.TextDocumentContentChangeWholeDocument(text=text)
        ident = t.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version)
        params = t.DidChangeTextDocumentParams(text_document=ident, content_changes=[change])
        return await self._published(lambda: self.client.text_document_did_change(params))

    async def _published(self, send) -> list[t.Diagnostic]:
        while True:
            waiter = self.client.protocol.wait_for_notification_async(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
            if send is not None:
                send()
                send = None
            params = await asyncio.wait_for(waiter, 60)
            if params.uri == self.uri and params.version == self.version:
                return list(params.diagnostics)

    def at(self, needle: str, delta: int = 0) -> t.Position:
        """The LSP position (UTF-16) of `needle`'s first character, plus `delta` characters."""
        offset = self.text.index(needle) + delta
        before = self.text[:offset]
        line = before.count("\n")
        column = before[before.rfind("\n") + 1 :]
        return t.Position(line=line, character=len(column.encode("utf-16-le")) // 2)

    @property
    def ident(self) -> t.TextDocumentIdentifier:
        return t.TextDocumentIdentifier(uri=self.uri)


def span_text(doc: Doc, r: t.Range) -> str:
    """The text a range covers, counting UTF-16 units as the LSP does."""
    lines = doc.text.split("\n")
    assert r.start.line == r.end.line
    units = lines[r.start.line].encode("utf-16-le")
    return units[2 * r.start.character : 2 * r.end.character].decode("utf-16-le")


LEAD = (EXAMPLES / "lead_routing.ppflow").read_text(encoding="utf-8")

UNICODE = """\
event 1 点击 "页面上的任何点击 🎉"
agent 客服 "小王 😀"
field 等级 int

flow 欢迎 {
  on event 点击 -> if 等级 > 3 reply 客服 "你好 🎉 {{ user_fullname }}" else reply 客服x
}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("lead_routing.ppflow", "lead_routing.test.json", "lead_routing.visitor.json"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path


# --------------------------------------------------------------- diagnostics


async def test_a_clean_file_publishes_no_diagnostics(client: LanguageClient, folder: Path):
    assert await Doc(client, folder / "lead_routing.ppflow", LEAD).open() == []


async def test_diagnostics_of_check_on_open_and_on_change(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "a.ppflow", "agent alice\non event 1 -> reply alic\n")
    unused, diag = await doc.open()
    assert (diag.code, diag.severity, diag.source) == ("E104", t.DiagnosticSeverity.Error, "ppdsl")
    assert (unused.code, unused.severity) == ("W202", t.DiagnosticSeverity.Warning)
    assert "unknown agent 'alic'" in diag.message and "did you mean 'alice'?" in diag.message
    assert span_text(doc, diag.range) == "alic"
    assert await doc.replace("agent alice\non event 1 -> reply alice\n") == []


async def test_a_syntax_error_gets_a_diagnostic_and_the_server_goes_on(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "a.ppflow", "agent alice\non event 1 -> repyl alice\n")
    (diag,) = await doc.open()
    assert diag.code == "E001" and "did you mean 'reply'?" in diag.message
    assert span_text(doc, diag.range) == "repyl"
    hover = await client.text_document_hover_async(t.HoverParams(doc.ident, doc.at("alice")))
    assert hover is None  # no program while it doesn't parse, and no error either
    assert await doc.replace("agent alice\non event 1 -> reply alice\n") == []


async def test_warnings_are_warnings_with_related_information(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "a.ppflow", "agent alice\nagent alice\non event 1 -> reply alice\n")
    (diag,) = await doc.open()
    assert diag.code == "E106"
    (related,) = diag.related_information or []
    assert related.location.range.start.line == 0


async def test_utf16_positions_with_chinese_text_and_emoji(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "中文.ppflow", UNICODE)
    (diag,) = await doc.open()
    assert diag.code == "E104"
    assert diag.range.start == doc.at("客服x") and span_text(doc, diag.range) == "客服x"
    # after an emoji (two UTF-16 units) on the same line
    text = UNICODE.replace('"你好 🎉 {{ user_fullname }}"', '"你好 🎉 {{ user_fulname }}"')
    (diag, _) = await doc.replace(text)
    assert diag.code == "E101" and span_text(doc, diag.range) == "user_fulname"
    assert diag.range.start == doc.at("user_fulname")


async def test_changes_are_debounced(client: LanguageClient, tmp_path: Path):
    """A burst of changes is checked once: only the last version's diagnostics come."""
    doc = Doc(client, tmp_path / "a.ppflow", "agent alice\n")
    await doc.open()
    seen: list[int] = []
    text = "agent alice\n"
    for ch in "on event 1 -> reply alice\n":
        text += ch
        doc.version += 1
        change = t.TextDocumentContentChangeWholeDocument(text=text)
        ident = t.VersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
        client.text_document_did_change(t.DidChangeTextDocumentParams(text_document=ident, content_changes=[change]))
    doc.text = text
    while True:
        params = await asyncio.wait_for(
            client.protocol.wait_for_notification_async(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 60
        )
        seen.append(params.version)
        if params.version == doc.version:
            break
    assert list(params.diagnostics) == []
    assert len(seen) < 5, seen  # 26 changes, far fewer checks


# --------------------------------------------------------------- hostile buffers


async def test_hostile_buffers_never_crash_the_server(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "junk.ppflow", "\x00\x01\xff\ufffe binary \x1b[31m junk \ud800"[:-1] * 1000)
    (diag,) = await doc.open()
    assert diag.code == "E001"
    big = LEAD * (5_000_000 // len(LEAD) + 1)
    diags = await doc.replace(big)
    assert len(diags) == 1 and "ppdsl check" in diags[0].message
    assert await client.text_document_hover_async(t.HoverParams(doc.ident, doc.at("view_pricing)"))) is None
    # typing a flow character by character, each keystroke a small incremental change
    await doc.replace("")
    typed = LEAD[:400]
    for i, ch in enumerate(typed):
        doc.version += 1
        position = doc_position(typed[:i])
        change = t.TextDocumentContentChangePartial(range=t.Range(start=position, end=position), text=ch)
        ident = t.VersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
        client.text_document_did_change(t.DidChangeTextDocumentParams(text_document=ident, content_changes=[change]))
        if i % 37 == 0:  # requests in between, on half-typed text
            await client.text_document_hover_async(t.HoverParams(doc.ident, position))
            await client.text_document_completion_async(t.CompletionParams(doc.ident, position))
            await client.text_document_document_symbol_async(t.DocumentSymbolParams(doc.ident))
    doc.text = typed
    diags = await doc._published(None)
    assert all(d.source == "ppdsl" for d in diags)
    symbols = await client.text_document_document_symbol_async(t.DocumentSymbolParams(doc.ident))
    assert symbols is not None


def doc_position(before: str) -> t.Position:
    column = before[before.rfind("\n") + 1 :]
    return t.Position(line=before.count("\n"), character=len(column.encode("utf-16-le")) // 2)


# --------------------------------------------------------------- formatting


async def test_formatting_through_fmt(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "a.ppflow", "agent   alice\non event 1->reply alice  # hi\n")
    await doc.open()
    options = t.FormattingOptions(tab_size=2, insert_spaces=True)
    (edit,) = await client.text_document_formatting_async(t.DocumentFormattingParams(doc.ident, options))
    assert edit.new_text == "agent alice\non event 1 -> reply alice  # hi\n"
    assert edit.range.start == t.Position(line=0, character=0)
    assert edit.range.end == t.Position(line=2, character=0)


async def test_formatting_leaves_a_file_with_errors_alone(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "a.ppflow", "agent alice\non event 1 -> reply bob\n")
    await doc.open()
    options = t.FormattingOptions(tab_size=2, insert_spaces=True)
    assert not await client.text_document_formatting_async(t.DocumentFormattingParams(doc.ident, options))


# --------------------------------------------------------------- hover


@pytest.mark.parametrize(
    "needle, delta, shown",
    [
        ("view_pricing)", 0, ["event 2 view_pricing", "uuid: `0b8e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4`"]),
        ("click, view", 2, ["event 1 click", "Any click on the page"]),
        ('agent_a "Hi', 0, ["agent agent_a", 'Display name: "Alice (senior sales)"']),
        ("user_fullname", 3, ["user_fullname: str", "The visitor's full name."]),
        ("count(view", 1, ["count(event) -> int", "How many times the visitor did event E"]),
        ("lead_routing {", 0, ["flow lead_routing", "2 rule(s)"]),
    ],
)
async def test_hover(client: LanguageClient, folder: Path, needle: str, delta: int, shown: list[str]):
    doc = Doc(client, folder / "lead_routing.ppflow", LEAD)
    await doc.open()
    hover = await client.text_document_hover_async(t.HoverParams(doc.ident, doc.at(needle, delta)))
    assert hover is not None and isinstance(hover.contents, t.MarkupContent)
    assert hover.contents.kind == t.MarkupKind.Markdown
    for text in shown:
        assert text in hover.contents.value
    assert hover.range is not None and hover.range.start.line == doc.at(needle).line


FIELDS = """\
event 1 click
agent alice
group sales "Sales team"
field tier int
segment vip = tier > 2
flow f {
  on event click -> {
    let n = count(click) + tier
    if vip and n > 3 reply alice "{{ n }}" else assign group sales
  }
}
"""


@pytest.mark.parametrize(
    "needle, delta, shown",
    [
        ("sales\n", 0, ["group sales", 'Display name: "Sales team"']),
        ("tier\n", 0, ["field tier int"]),
        ("vip and", 0, ["segment vip = tier > 2", "(bool)"]),
        ("n > 3", 0, ["let n = count(click) + tier", "(int)"]),
        ("n }}", 0, ["let n ="]),
    ],
)
async def test_hover_on_groups_fields_segments_and_lets(
    client: LanguageClient, tmp_path: Path, needle: str, delta: int, shown: list[str]
):
    doc = Doc(client, tmp_path / "f.ppflow", FIELDS)
    await doc.open()
    hover = await client.text_document_hover_async(t.HoverParams(doc.ident, doc.at(needle, delta)))
    assert hover is not None
    for text in shown:
        assert text in hover.contents.value  # type: ignore[union-attr]


async def test_hover_in_chinese_text(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "中文.ppflow", UNICODE)
    await doc.open()
    hover = await client.text_document_hover_async(t.HoverParams(doc.ident, doc.at('客服 "你好', 1)))
    assert hover is not None and 'Display name: "小王 😀"' in hover.contents.value  # type: ignore[union-attr]
    assert hover.range is not None and span_text(doc, hover.range) == "客服"


# --------------------------------------------------------------- definition and references


@pytest.mark.parametrize(
    "use, declared",
    [
        ("click ->", "click\n"),
        ('alice "', "alice\n"),
        ("sales\n  }", 'sales "'),
        ("tier\n    if", "tier int"),
        ("vip and", "vip ="),
        ("n > 3", "n = count"),
        ("n }}", "n = count"),
    ],
)
async def test_definition(client: LanguageClient, tmp_path: Path, use: str, declared: str):
    doc = Doc(client, tmp_path / "f.ppflow", FIELDS)
    await doc.open()
    found = await client.text_document_definition_async(t.DefinitionParams(doc.ident, doc.at(use)))
    assert isinstance(found, t.Location) and found.uri == doc.uri
    assert found.range.start == doc.at(declared)


async def test_references(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "f.ppflow", FIELDS)
    await doc.open()
    context = t.ReferenceContext(include_declaration=True)
    refs = await client.text_document_references_async(t.ReferenceParams(context, doc.ident, doc.at("tier int")))
    assert [r.range.start.line for r in refs or []] == [3, 4, 7]
    assert all(span_text(doc, r.range) == "tier" for r in refs or [])
    context = t.ReferenceContext(include_declaration=False)
    refs = await client.text_document_references_async(t.ReferenceParams(context, doc.ident, doc.at("click ->")))
    assert [(r.range.start.line, span_text(doc, r.range)) for r in refs or []] == [(6, "click"), (7, "click")]


async def test_definition_in_chinese_text(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "中文.ppflow", UNICODE.replace("客服x", "客服"))
    await doc.open()
    found = await client.text_document_definition_async(t.DefinitionParams(doc.ident, doc.at("等级 >", 1)))
    assert isinstance(found, t.Location) and found.range.start == doc.at("等级 int")
    assert span_text(doc, found.range) == "等级"


# --------------------------------------------------------------- completion


async def complete(client: LanguageClient, doc: Doc, position: t.Position) -> dict[str, t.CompletionItem]:
    result = await client.text_document_completion_async(t.CompletionParams(doc.ident, position))
    assert isinstance(result, t.CompletionList)
    return {item.label: item for item in result.items}


async def test_completion_in_context(client: LanguageClient, tmp_path: Path):
    text = FIELDS.replace('reply alice "{{ n }}"', "reply ").replace("count(click)", "count()")
    doc = Doc(client, tmp_path / "f.ppflow", FIELDS)
    await doc.open()
    await doc.replace(text)
    after_reply = await complete(client, doc, doc.at("reply ", 6))
    assert set(after_reply) == {"alice"}
    inside_count = await complete(client, doc, doc.at("count(", 6))
    assert set(inside_count) == {"click"} and inside_count["click"].kind == t.CompletionItemKind.Event
    after_group = await complete(client, doc, doc.at("assign group sales", 13))
    assert set(after_group) == {"sales"}


async def test_completion_of_keywords_names_and_snippets(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "f.ppflow", FIELDS)
    await doc.open()
    items = await complete(client, doc, doc.at("if vip"))
    for label in ("if", "reply", "switch", "tier", "vip", "n", "user_fullname", "now", "count", "matches"):
        assert label in items, label
    assert items["if"].kind == t.CompletionItemKind.Keyword
    assert items["count"].kind == t.CompletionItemKind.Function and "event" in (items["count"].detail or "")
    for label in ("flow", "on event", "if/else", "switch"):
        snippet = [i for i in items.values() if i.label == label and i.kind == t.CompletionItemKind.Snippet]
        assert snippet and snippet[0].insert_text_format == t.InsertTextFormat.Snippet, label
    assert "${1:name}" in (items["flow"].insert_text or "") or any(
        "${1:name}" in (i.insert_text or "") for i in items.values()
    )


async def test_no_completion_inside_a_comment_or_string(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "f.ppflow", FIELDS + '# reply \non event 1 -> reply alice "Hi re')
    await doc.open()
    assert await complete(client, doc, doc.at("# reply ", 8)) == {}
    assert await complete(client, doc, doc.at('"Hi re', 6)) == {}


async def test_completion_while_the_file_has_a_syntax_error(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "f.ppflow", FIELDS)
    await doc.open()
    await doc.replace(FIELDS + "on event click -> reply ")
    items = await complete(client, doc, doc.at("-> reply ", 9))
    assert set(items) == {"alice"}


# --------------------------------------------------------------- document symbols


async def test_document_symbols(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "f.ppflow", FIELDS)
    await doc.open()
    symbols = await client.text_document_document_symbol_async(t.DocumentSymbolParams(doc.ident))
    shown = [(s.name, s.kind) for s in symbols or [] if isinstance(s, t.DocumentSymbol)]
    assert shown == [
        ("click", t.SymbolKind.Event),
        ("alice", t.SymbolKind.Constant),
        ("sales", t.SymbolKind.Constant),
        ("tier", t.SymbolKind.Field),
        ("vip", t.SymbolKind.Variable),
        ("f", t.SymbolKind.Function),
    ]
    flow = symbols[-1]  # type: ignore[index]
    assert isinstance(flow, t.DocumentSymbol)
    assert [c.name for c in flow.children or []] == ["on event click"]
    assert flow.selection_range.start == doc.at("f {")


# --------------------------------------------------------------- quick fixes


@pytest.mark.parametrize(
    "text, replacement",
    [
        ("agent alice\non event 1 -> reply alic\n", "alice"),
        ("agent alice\non event 1 -> repyl alice\n", "reply"),
        ("agent alice\non event 1 -> reply alice “hi”\n", '"'),
        ("field tier int\non event 1 -> if tierr > 1 end\n", "tier"),
        ("on event 1 -> if lenn(page_url) > 1 end\n", "len"),
    ],
)
async def test_quick_fixes(client: LanguageClient, tmp_path: Path, text: str, replacement: str):
    doc = Doc(client, tmp_path / "a.ppflow", text)
    diags = await doc.open()
    (fixable,) = [d for d in diags if d.data]
    context = t.CodeActionContext(diagnostics=diags)
    params = t.CodeActionParams(doc.ident, fixable.range, context)
    actions = await client.text_document_code_action_async(params)
    (action,) = [a for a in actions or [] if isinstance(a, t.CodeAction)]
    assert action.kind == t.CodeActionKind.QuickFix and action.is_preferred
    (edit,) = (action.edit.changes or {})[doc.uri]  # type: ignore[union-attr]
    assert edit.new_text == replacement and edit.range == fixable.range
    lines = doc.text.split("\n")
    line = lines[edit.range.start.line]
    lines[edit.range.start.line] = line[: edit.range.start.character] + replacement + line[edit.range.end.character :]
    fixed = "\n".join(lines)
    after = await doc.replace(fixed)
    assert (fixable.code, fixable.range) not in [(d.code, d.range) for d in after]


# --------------------------------------------------------------- the Run lens


async def test_run_lens_runs_the_sibling_test_file(client: LanguageClient, folder: Path):
    doc = Doc(client, folder / "lead_routing.ppflow", LEAD)
    await doc.open()
    (lens,) = await client.text_document_code_lens_async(t.CodeLensParams(doc.ident)) or []
    assert lens.range.start == doc.at("lead_routing {")
    assert lens.command is not None and "lead_routing.test.json" in lens.command.title
    params = t.ExecuteCommandParams(command=lens.command.command, arguments=lens.command.arguments)
    result = await client.workspace_execute_command_async(params)
    assert result["ok"] is True and result["summary"] == "lead_routing.test.json: 3 passed, 0 failed"
    assert "PASS a new visitor gets Bob's hello" in result["details"]
    assert client.messages[-1].message == result["summary"]
    assert client.messages[-1].type == t.MessageType.Info


async def test_run_lens_shows_a_failure(client: LanguageClient, folder: Path):
    flow = folder / "lead_routing.ppflow"
    flow.write_text(LEAD.replace("Hello!", "Hey!"), encoding="utf-8")
    doc = Doc(client, flow, flow.read_text(encoding="utf-8"))
    await doc.open()
    (lens,) = await client.text_document_code_lens_async(t.CodeLensParams(doc.ident)) or []
    params = t.ExecuteCommandParams(command=lens.command.command, arguments=lens.command.arguments)  # type: ignore[union-attr]
    result = await client.workspace_execute_command_async(params)
    assert result["ok"] is False and result["summary"].endswith("2 passed, 1 failed")
    assert "FAIL a new visitor gets Bob's hello" in result["details"]
    assert client.messages[-1].type == t.MessageType.Error


async def test_run_lens_replays_an_events_file(client: LanguageClient, tmp_path: Path):
    for name in ("lead_routing.ppflow", "lead_routing.events.json", "lead_routing.visitor.json"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    doc = Doc(client, tmp_path / "lead_routing.ppflow", LEAD)
    await doc.open()
    (lens,) = await client.text_document_code_lens_async(t.CodeLensParams(doc.ident)) or []
    assert "Replay" in lens.command.title and "lead_routing.events.json" in lens.command.title  # type: ignore[union-attr]
    params = t.ExecuteCommandParams(command=lens.command.command, arguments=lens.command.arguments)  # type: ignore[union-attr]
    result = await client.workspace_execute_command_async(params)
    assert result["ok"] is True and result["summary"] == "lead_routing.events.json: 3 events replayed, 2 actions"
    assert result["details"].startswith('event 1: {"actions": [{"flow": "lead_routing", "line": 13, "type": "reply"')


async def test_no_run_lens_without_a_test_or_events_file(client: LanguageClient, tmp_path: Path):
    doc = Doc(client, tmp_path / "alone.ppflow", LEAD)
    await doc.open()
    assert not await client.text_document_code_lens_async(t.CodeLensParams(doc.ident))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "ppdsl", "lsp"]))
async def utf8_client(lsp_client: LanguageClient):
    capabilities = client_capabilities("visual-studio-code")
    capabilities.general = t.GeneralClientCapabilities(position_encodings=["utf-8", "utf-32", "utf-16"])
    result = await lsp_client.initialize_session(t.InitializeParams(capabilities=capabilities))
    assert result.capabilities.position_encoding == "utf-16"
    yield
    await lsp_client.shutdown_session()


async def test_positions_are_utf16_even_when_the_client_offers_utf8_first(utf8_client: LanguageClient, tmp_path: Path):
    doc = Doc(utf8_client, tmp_path / "中文.ppflow", UNICODE)
    (diag,) = await doc.open()
    assert diag.range.start == doc.at("客服x") and span_text(doc, diag.range) == "客服x"

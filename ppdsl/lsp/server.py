"""`ppdsl lsp`: a language server on stdio, built on pygls.

It adapts what `ppdsl.authoring.editor` answers (diagnostics of `check`,
`fmt`, hover, definitions, references, completions, the outline and the Run
lens) to the Language Server Protocol: offsets to UTF-16 positions and back,
plain data to lsprotocol types. It holds no language logic of its own.

Diagnostics are published when a file opens and, debounced, after it
changes: a burst of keystrokes is checked once, in a worker thread, so the
server keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

from lsprotocol import types as t
from lsprotocol.converters import get_converter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from ..authoring import editor
from ..authoring.fmt import FormatError, FormatterBug, format_source
from ..lang import ir
from ..lang.diagnostics import lsp_range, to_lsp
from ..lang.reparse import Reparser
from ..lang.span import LineIndex, Span
from ..version import __version__

DEBOUNCE = 0.15  # seconds of quiet after a change before the file is checked
LIVE_LIMIT = 2_000_000  # characters; a larger file is checked by `ppdsl check`, not as you type
RUN = "ppdsl.run"

_converter = get_converter()

_COMPLETION_KINDS = {
    "keyword": t.CompletionItemKind.Keyword,
    "snippet": t.CompletionItemKind.Snippet,
    "event": t.CompletionItemKind.Event,
    "agent": t.CompletionItemKind.Constant,
    "group": t.CompletionItemKind.Constant,
    "field": t.CompletionItemKind.Field,
    "segment": t.CompletionItemKind.Variable,
    "let": t.CompletionItemKind.Variable,
    "variable": t.CompletionItemKind.Variable,
    "function": t.CompletionItemKind.Function,
    "type": t.CompletionItemKind.TypeParameter,
}
_SYMBOL_KINDS = {
    "event": t.SymbolKind.Event,
    "agent": t.SymbolKind.Constant,
    "group": t.SymbolKind.Constant,
    "field": t.SymbolKind.Field,
    "segment": t.SymbolKind.Variable,
    "flow": t.SymbolKind.Function,
    "rule": t.SymbolKind.Method,
}


class _Protocol(LanguageServerProtocol):
    @lsp_method(t.INITIALIZE)
    def lsp_initialize(self, params: t.InitializeParams) -> Any:
        """Positions are always UTF-16 (the protocol's default), whatever else the client offers:
        every column ppdsl sends or reads is counted so."""
        if params.capabilities.general is not None:
            params.capabilities.general.position_encodings = None
        return (yield from super().lsp_initialize(params))


class PpflowServer(LanguageServer):
    """The server's state: the latest analysis of each open file, the last
    program that parsed (completions and the outline use it while the file
    has a syntax error), the pending debounced checks, and per file a
    Reparser (which reuses the unchanged start of the file) with the lock
    that keeps the worker thread and requests from using it at once."""

    def __init__(self) -> None:
        super().__init__(
            "ppdsl", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental, protocol_cls=_Protocol
        )
        self.analyses: dict[str, editor.Analysis] = {}
        self.programs: dict[str, ir.Program] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.reparsers: dict[str, Reparser] = defaultdict(Reparser)
        self.locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def text(self, uri: str) -> str:
        return self.workspace.get_text_document(uri).source

    def analysis(self, uri: str, text: Optional[str] = None) -> editor.Analysis:
        """The analysis of the document's current text, made now if it is stale."""
        text = self.text(uri) if text is None else text
        if len(text) > LIVE_LIMIT:  # too large to check as you type: nothing to offer
            return editor.analyze("", _filename(uri))
        with self.locks[uri]:
            known = self.analyses.get(uri)
            if known is not None and known.text == text:
                return known
            return self.remember(uri, editor.analyze(text, _filename(uri), self.reparsers[uri]))

    def remember(self, uri: str, analysis: editor.Analysis) -> editor.Analysis:
        self.analyses[uri] = analysis
        if analysis.program is not None:
            self.programs[uri] = analysis.program
        return analysis

    def program(self, uri: str) -> Optional[ir.Program]:
        self.analysis(uri)
        return self.programs.get(uri)

    def schedule(self, uri: str, delay: float) -> None:
        """Check the file after `delay` seconds of quiet; a newer change restarts the wait."""
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self.pending[uri] = asyncio.ensure_future(self.publish_later(uri, delay))

    async def publish_later(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        document = self.workspace.get_text_document(uri)
        text, version = document.source, document.version
        if len(text) > LIVE_LIMIT:
            self.publish(uri, version, [_too_large(text)])
            return
        analysis = await asyncio.to_thread(self.analysis, uri, text)
        if self.text(uri) != text:
            return  # changed meanwhile: the newer change's check will publish
        diagnostics = [_converter.structure(to_lsp(d, uri), t.Diagnostic) for d in analysis.result.diagnostics]
        self.publish(uri, version, diagnostics)

    def publish(self, uri: str, version: Optional[int], diagnostics: list[t.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            t.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )


server = PpflowServer()


def _filename(uri: str) -> str:
    return to_fs_path(uri) or uri


def _too_large(text: str) -> t.Diagnostic:
    size = f"{len(text) / 1e6:.1f} million characters"
    message = f"this file has {size}: ppdsl checks files up to {LIVE_LIMIT:,} as you type; run `ppdsl check` on it"
    start = t.Position(line=0, character=0)
    return t.Diagnostic(
        range=t.Range(start=start, end=start),
        message=message,
        severity=t.DiagnosticSeverity.Information,
        source="ppdsl",
    )


def _range(span: Span) -> t.Range:
    return _converter.structure(lsp_range(span), t.Range)


def _offset(analysis: editor.Analysis, position: t.Position) -> int:
    return analysis.index.from_utf16(position.line, position.character)


# --------------------------------------------------------------- documents


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: PpflowServer, params: t.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: PpflowServer, params: t.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, DEBOUNCE)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: PpflowServer, params: t.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    pending = ls.pending.pop(uri, None)
    if pending is not None:
        pending.cancel()
    for state in (ls.analyses, ls.programs, ls.reparsers, ls.locks):
        state.pop(uri, None)
    ls.publish(uri, None, [])


# --------------------------------------------------------------- requests


@server.feature(t.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: PpflowServer, params: t.DocumentFormattingParams) -> Optional[list[t.TextEdit]]:
    """The whole file in `fmt`'s layout; nothing for a file with errors (its diagnostics say why)."""
    uri = params.text_document.uri
    text = ls.text(uri)
    try:
        formatted = format_source(text, _filename(uri))
    except FormatError:
        return None
    except FormatterBug as exc:
        ls.window_show_message(t.ShowMessageParams(type=t.MessageType.Error, message=str(exc)))
        return None
    if formatted == text:
        return []
    index = LineIndex(text)
    end = t.Position(line=len(index.starts) - 1, character=index.utf16(len(text))[1])
    return [t.TextEdit(range=t.Range(start=t.Position(line=0, character=0), end=end), new_text=formatted)]


@server.feature(t.TEXT_DOCUMENT_HOVER)
def hover(ls: PpflowServer, params: t.HoverParams) -> Optional[t.Hover]:
    analysis = ls.analysis(params.text_document.uri)
    found = editor.hover(analysis, _offset(analysis, params.position))
    if found is None:
        return None
    span, text = found
    return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text), range=_range(span))


@server.feature(t.TEXT_DOCUMENT_DEFINITION)
def definition(ls: PpflowServer, params: t.DefinitionParams) -> Optional[t.Location]:
    uri = params.text_document.uri
    analysis = ls.analysis(uri)
    span = editor.definition(analysis, _offset(analysis, params.position))
    return t.Location(uri=uri, range=_range(span)) if span else None


@server.feature(t.TEXT_DOCUMENT_REFERENCES)
def references(ls: PpflowServer, params: t.ReferenceParams) -> list[t.Location]:
    uri = params.text_document.uri
    analysis = ls.analysis(uri)
    offset = _offset(analysis, params.position)
    spans = editor.references(analysis, offset, params.context.include_declaration)
    return [t.Location(uri=uri, range=_range(span)) for span in spans]


@server.feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=[" ", "("]))
def completion(ls: PpflowServer, params: t.CompletionParams) -> t.CompletionList:
    uri = params.text_document.uri
    analysis = ls.analysis(uri)
    offset = _offset(analysis, params.position)
    items = [
        t.CompletionItem(
            label=c.label,
            kind=_COMPLETION_KINDS[c.kind],
            detail=c.detail or None,
            documentation=t.MarkupContent(kind=t.MarkupKind.Markdown, value=c.documentation)
            if c.documentation
            else None,
            insert_text=c.insert,
            insert_text_format=t.InsertTextFormat.Snippet if c.is_snippet else None,
        )
        for c in editor.completions(analysis.index.text, offset, ls.program(uri))
    ]
    return t.CompletionList(is_incomplete=False, items=items)


@server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbols(ls: PpflowServer, params: t.DocumentSymbolParams) -> list[t.DocumentSymbol]:
    analysis = ls.analysis(params.text_document.uri)
    program = analysis.program or ls.programs.get(params.text_document.uri)
    return [_symbol(item) for item in editor.outline(program)] if program else []


def _symbol(item: editor.Outline) -> t.DocumentSymbol:
    return t.DocumentSymbol(
        name=item.name,
        kind=_SYMBOL_KINDS[item.kind],
        detail=item.detail or None,
        range=_range(item.span),
        selection_range=_range(item.selection),
        children=[_symbol(child) for child in item.children],
    )


@server.feature(
    t.TEXT_DOCUMENT_CODE_ACTION,
    t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix], resolve_provider=False),
)
def code_actions(ls: PpflowServer, params: t.CodeActionParams) -> list[t.CodeAction]:
    """A quick fix for each diagnostic that carries its replacement (a did-you-mean, a straight quote)."""
    uri = params.text_document.uri
    actions = []
    for diag in params.context.diagnostics:
        replacement = diag.data.get("replacement") if isinstance(diag.data, dict) else None
        if not isinstance(replacement, str):
            continue
        edit = t.WorkspaceEdit(changes={uri: [t.TextEdit(range=diag.range, new_text=replacement)]})
        actions.append(
            t.CodeAction(
                title=f"Replace with '{replacement}'",
                kind=t.CodeActionKind.QuickFix,
                diagnostics=[diag],
                edit=edit,
                is_preferred=True,
            )
        )
    return actions


@server.feature(t.TEXT_DOCUMENT_CODE_LENS)
def code_lens(ls: PpflowServer, params: t.CodeLensParams) -> list[t.CodeLens]:
    """A Run lens on each flow, when a NAME.test.json or NAME.events.json is beside the file."""
    uri = params.text_document.uri
    path = to_fs_path(uri)
    target = editor.run_target(Path(path)) if path else None
    program = ls.program(uri)
    if target is None or program is None:
        return []
    verb = "Run tests" if target.name.endswith(".test.json") else "Replay"
    command = t.Command(title=f"▶ {verb}: {target.name}", command=RUN, arguments=[uri])
    lenses = []
    for flow in program.flows:
        span = flow.name_span if not flow.implicit else flow.rules[0].span
        lenses.append(t.CodeLens(range=_range(span), command=command))
    return lenses


@server.command(RUN)
async def run(ls: PpflowServer, uri: str) -> dict[str, Any]:
    """Run what the lens names; the summary is shown, the full report logged and returned."""
    path = to_fs_path(uri)
    target = editor.run_target(Path(path)) if path else None
    if target is None:
        outcome = editor.RunOutcome(False, "no NAME.test.json or NAME.events.json beside this file", "")
    else:
        outcome = await asyncio.to_thread(editor.run, target)
    kind = t.MessageType.Info if outcome.ok else t.MessageType.Error
    ls.window_log_message(t.LogMessageParams(type=kind, message=outcome.details))
    ls.window_show_message(t.ShowMessageParams(type=kind, message=outcome.summary))
    return {"ok": outcome.ok, "summary": outcome.summary, "details": outcome.details}


def main() -> None:
    server.start_io()

"""Every message ppdsl can report about a `.ppflow` file, in the manner of
mypy's message registry: the wording stays consistent and each code is
documented in one place."""

from __future__ import annotations

# code -> (severity, message template)
MESSAGES: dict[str, tuple[str, str]] = {
    # lexical and syntax
    "E001": ("error", "syntax error: {detail}"),
    "E006": ("error", "string is not closed on this line"),
    "E002": ("error", "typographic quote {quote} is not a string delimiter"),
    "E003": ("error", "invalid escape sequence {escape} in string"),
    "E004": ("error", "the file is not valid UTF-8 text: {detail}"),
    "E005": ("error", "the file is too deeply nested to read (more than {limit} levels)"),
    # names
    "E101": ("error", "unknown name '{name}'"),
    "E102": ("error", "unknown function '{name}'"),
    "E103": ("error", "unknown event '{name}'"),
    "E104": ("error", "unknown agent '{name}'"),
    "E105": ("error", "unknown group '{name}'"),
    "E106": ("error", "{kind} '{name}' is declared more than once"),
    "E107": ("error", "event number {seq} is declared more than once"),
    "E108": ("error", "event uuid {uuid} is declared more than once"),
    "E109": ("error", "event number {seq} is out of range: events are numbered 1 to 8"),
    "E110": ("error", "too many events: a website tracks at most 8, this file declares {count}"),
    "E111": ("error", "{kind} name '{name}' is {size} characters long; the limit is {limit}"),
    "E112": ("error", "event description is {size} characters long; the limit is 128"),
    "E113": ("error", "event uuid must not be empty"),
    "E114": ("error", "unknown field type '{name}'"),
    "E115": ("error", "flow 'main' is declared, but rules outside any flow already form the implicit flow 'main'"),
    "E116": ("error", "'{name}' is already {what}; a {kind} can't reuse that name"),
    "E117": ("error", "segment '{name}' refers to itself through {path}"),
    "E118": ("error", "can't set '{name}': {why}"),
    "E119": ("error", "{func}() takes {expected}, got {got}"),
    "E120": ("error", "{func}() takes an event number or event name"),
    "E121": ("error", "matches() {detail}"),
    "E122": ("error", "case value {value} already appears in this switch"),
    "E123": ("error", "template: {detail}"),
    "E124": ("error", "type error: {detail}"),
    "E126": ("error", "number {value} is too large"),
    # warnings
    "W201": ("warning", "this rule can never run: {detail}"),
    "W202": ("warning", "{kind} '{name}' is declared but never used"),
    "W203": ("warning", "comparison is always {result}: {left} and {right} values are never equal"),
    "W204": ("warning", "{what} is the time of this very event here: statistics are updated before flows run"),
}

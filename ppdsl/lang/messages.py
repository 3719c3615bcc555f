"""Every diagnostic ppdsl can report about a `.ppflow` file, and every limit
the language sets, in one place (in the manner of mypy's message registry).

A Message is a code, a severity, a text and an optional help; both texts are
`str.format` templates filled with the arguments given where it is reported.
Several messages may share a code when the same problem needs a different
hint in different places (E005 at each of the limits below). A help given
where a message is reported (a "did you mean", a listing of declared names)
replaces the registry's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# ----------------------------------------------------------------- limits

MAX_BRACKETS = 64  # brackets inside each other, and `not`/`-` in a row
MAX_STATEMENT_DEPTH = 50  # statements inside each other
MAX_EXPRESSION_DEPTH = 100  # expression nodes inside each other
PYTHON_MAX_NESTING = 200  # CPython's parser limit on brackets inside each other, in generated code
MAX_EVENTS = 8  # PPMessage tracks at most 8 events per website
MAX_EVENT_NAME = 64
MAX_FLOW_NAME = 32
MAX_DESCRIPTION = 128
MAX_DIGITS = 15  # digits in a number literal
MAX_DURATION_DAYS = 999_999_999  # what datetime.timedelta holds


@dataclass(frozen=True)
class Message:
    code: str
    severity: str  # "error" or "warning"
    text: str
    help: Optional[str] = None

    def format(self, args: dict[str, object]) -> str:
        return self.text.format(**args)

    def format_help(self, args: dict[str, object]) -> Optional[str]:
        return self.help.format(**args) if self.help else None


def _error(code: str, text: str, help: Optional[str] = None) -> Message:
    return Message(code, "error", text, help)


def _warning(code: str, text: str, help: Optional[str] = None) -> Message:
    return Message(code, "warning", text, help)


STRAIGHT_QUOTES = "write strings with straight quotes: \"...\" or '...'"
SPLIT_EXPRESSION = "split the expression with `let` or a segment"

# ----------------------------------------------------------------- lexical and syntax

SYNTAX = _error("E001", "syntax error: {detail}")
_SYNTAX = SYNTAX.text
SYNTAX_STATEMENT = _error("E001", _SYNTAX, "a statement starts with {words} or '{{'")
SYNTAX_DURATION_WORDS = _error("E001", _SYNTAX, "write a duration as one word: 30s, 10m, 2h, 7d or 1w")
SYNTAX_DID_YOU_MEAN = _error("E001", _SYNTAX, "did you mean '{suggestion}'?")
SYNTAX_RULE_START = _error("E001", _SYNTAX, "a rule starts with `on event {found} ->`")
SYNTAX_KEYWORD_AS_NAME = _error("E001", _SYNTAX, "'{found}' is a keyword and can't be a name; choose another name")
SYNTAX_IS = _error("E001", _SYNTAX, "ppflow has no `is`: write `x == null` or `x != null`")
SYNTAX_METHOD_CALL = _error("E001", _SYNTAX, "ppflow has no methods: call it as a function, {name}(value, ...)")
SYNTAX_SLASH_COMMENT = _error("E001", _SYNTAX, "a comment starts with #")
SYNTAX_BITWISE = _error("E001", _SYNTAX, "'{found}' is not an operator here: write `{word}` (or {symbol})")
SYNTAX_PY2_NOT_EQUAL = _error("E001", _SYNTAX, "write != for 'not equal'")
SYNTAX_ARROW_GE = _error("E001", _SYNTAX, "did you mean '>='?")
SYNTAX_NUMBER_FORM = _error("E001", _SYNTAX, "ppflow doesn't read {found}: {fix}")
SYNTAX_DECIMAL_DURATION = _error("E001", _SYNTAX, "a duration is a whole number of a unit: write 90m, not 1.5h")
SYNTAX_UNCLOSED = _error(
    "E001", "syntax error: this '{bracket}' is never closed", "close it before the end of the file"
)
SYNTAX_SINGLE_EQUALS = _error("E001", _SYNTAX, "compare with '==' (a single '=' only appears in let, set and segment)")
UNEXPECTED_CHARACTER = _error(
    "E001", "syntax error: unexpected character {char}", "remove it; only text belongs in a .ppflow file"
)
MISPLACED_NOT = _error("E001", "syntax error: 'not' can't stand here", "put the negated part in parentheses: (not x)")
NEGATIVE_NON_NUMBER = _error("E001", "syntax error: '-' goes with a number only")
FULLWIDTH = _error(
    "E001",
    "syntax error: {char} is not ppflow punctuation (a Chinese input method may have typed it)",
    "write the ASCII {ascii} instead",
)
TYPOGRAPHIC_QUOTE = _error("E002", "typographic quote {quote} is not a string delimiter", STRAIGHT_QUOTES)
BAD_ESCAPE = _error("E003", "invalid escape sequence {escape} in string", r"use one of \\ \" \' \n \t \uXXXX")
LONE_SURROGATE = _error(
    "E003",
    "invalid escape sequence {escape} in string",
    "a lone UTF-16 surrogate is not text; write the character itself or a high+low pair like \\ud83d\\ude00",
)
NOT_UTF8 = _error("E004", "the file is not valid UTF-8 text: {detail}", "save the file as UTF-8")
_TOO_DEEP = "the file is too deeply nested to read (more than {limit} levels)"
TOO_DEEP_BRACKETS = _error("E005", _TOO_DEEP, SPLIT_EXPRESSION)
TOO_MANY_PREFIXES = _error("E005", _TOO_DEEP, "more than a few `not` or `-` in a row cancel out; remove them")
TOO_DEEP_STATEMENTS = _error("E005", _TOO_DEEP, "flatten the statements with elif or end")
TOO_DEEP_EXPRESSION = _error("E005", _TOO_DEEP, SPLIT_EXPRESSION)
TOO_DEEP_GENERATED = _error("E005", _TOO_DEEP, SPLIT_EXPRESSION)
UNCLOSED_STRING = _error(
    "E006",
    "string is not closed on this line",
    "end it with {quote} on the same line; write a line break inside a string as \\n",
)

# ----------------------------------------------------------------- names and declarations

UNKNOWN_NAME = _error("E101", "unknown name '{name}'")
UNKNOWN_NAME_IS_EVENT = _error(
    "E101", UNKNOWN_NAME.text, "'{name}' is an event; its statistics are count({name}), last_time({name}), ..."
)
UNKNOWN_NAME_IS_EVENT_VAR = _error(
    "E101", UNKNOWN_NAME.text, "a condition over a visitor has no current event; only `now` is available"
)
UNKNOWN_NAME_IS_FUNCTION = _error("E101", UNKNOWN_NAME.text, "'{name}' is a function: {name}(...)")
UNKNOWN_NAME_DECLARE = _error(
    "E101", UNKNOWN_NAME.text, "declare it as a visitor field: field {name} string (or int, float, bool, datetime)"
)
UNKNOWN_SET_TARGET = _error(
    "E101", UNKNOWN_NAME.text, "declare it first: field {name} string (or int, float, bool, datetime)"
)
UNKNOWN_FUNCTION = _error("E102", "unknown function '{name}'")
UNKNOWN_EVENT = _error("E103", "unknown event '{name}'")
UNKNOWN_EVENT_UNDECLARED = _error(
    "E103",
    UNKNOWN_EVENT.text,
    f"this file declares no events, so events are numbered 1 to {MAX_EVENTS}; or declare one: event 1 {{name}}",
)
UNKNOWN_EVENT_CONDITION = _error(
    "E103", UNKNOWN_EVENT.text, "pass the event's number to compile_condition: events={{'{name}': N}}"
)
UNKNOWN_AGENT = _error("E104", "unknown agent '{name}'")
AGENT_IS_GROUP = _error("E104", UNKNOWN_AGENT.text, "'{name}' is a group: write `assign group {name}`")
UNKNOWN_GROUP = _error("E105", "unknown group '{name}'")
DUPLICATE = _error("E106", "{kind} '{name}' is declared more than once")
DUPLICATE_SEQ = _error("E107", "event number {seq} is declared more than once", "event {seq} is already '{first}'")
DUPLICATE_UUID = _error("E108", "event uuid {uuid} is declared more than once")
SEQ_OUT_OF_RANGE = _error("E109", "event number {seq} is out of range: events are numbered 1 to " + str(MAX_EVENTS))
TOO_MANY_EVENTS = _error(
    "E110",
    f"too many events: a website tracks at most {MAX_EVENTS}, this file declares {{count}}",
    f"PPMessage tracks at most {MAX_EVENTS} events per website; remove or merge some",
)
NAME_TOO_LONG = _error("E111", "{kind} name '{name}' is {size} characters long; the limit is {limit}")
DESCRIPTION_TOO_LONG = _error("E112", f"event description is {{size}} characters long; the limit is {MAX_DESCRIPTION}")
EMPTY_ALIAS = _error("E113", "event alias must not be empty", 'leave out `alias ""`')
EMPTY_UUID = _error("E113", "event uuid must not be empty", 'leave out `uuid ""`, or give the uuid from PPMessage')
UNKNOWN_FIELD_TYPE = _error("E114", "unknown field type '{name}'")
MAIN_TWICE = _error(
    "E115",
    "flow 'main' is declared, but rules outside any flow already form the implicit flow 'main'",
    "rename this flow, or move the loose rules into it",
)
NAME_TAKEN = _error(
    "E116", "'{name}' is already {what}; a {kind} can't reuse that name", "choose another name for the {kind}"
)
SEGMENT_CYCLE = _error(
    "E117", "segment '{name}' refers to itself through {path}", "segments may use other segments, but not in a cycle"
)
CANT_SET_STATISTIC = _error(
    "E118", "can't set '{name}': event statistics and the current event's variables are kept by PPMessage"
)
CANT_SET_LET = _error(
    "E118",
    "can't set '{name}': it is a let variable, bound once",
    "bind a new name with `let`, or declare a field: field {name} TYPE",
)
CANT_SET_SEGMENT = _error("E118", "can't set '{name}': a segment is computed from its condition")

# ----------------------------------------------------------------- functions, templates, types

WRONG_ARITY = _error("E119", "{func}() takes {expected}, got {got}")
STAT_ARGUMENT = _error(
    "E120", "{func}() takes an event number or event name", "for example {func}(2) or {func}(signup)"
)
MATCHES_LITERAL = _error(
    "E121",
    "matches() needs a literal regular expression as its second argument",
    'write the pattern as a string, e.g. matches(page_url, "/pricing")',
)
MATCHES_INVALID = _error("E121", "matches() has an invalid regular expression: {error}")
DUPLICATE_CASE = _error("E122", "case value {value} already appears in this switch")
TEMPLATE_UNCLOSED = _error(
    "E123",
    "template: '{{{{' has no matching '}}}}'",
    "close it with '}}}}', or write a literal '{{{{' as {literal}",
)
TEMPLATE_INNER_QUOTE = _error(
    "E123",
    "template: this {quote} ends the string, inside '{{{{ }}}}'",
    "inside {{{{ }}}} write strings with the other quote, e.g. {{{{ user_fullname or {other}there{other} }}}}",
)
TEMPLATE_EMPTY = _error("E123", "template: '{{{{ }}}}' holds no expression")
TEMPLATE_TWO_EXPRESSIONS = _error("E123", "template: '{{{{ }}}}' holds one expression; found ';'")
TYPE_ERROR = _error("E124", "type error: {detail}")
_COMPARE = "type error: can't compare {left} with {right} using '{op}'"
COMPARE_MISMATCH = _error("E124", _COMPARE)
COMPARE_QUOTED_NUMBER = _error("E124", _COMPARE, "write numbers without quotes: count(2) > 8")
COMPARE_TEXT_WITH_NUMBER = _error(
    "E124", _COMPARE, "compare a number with a number, or text with text: int(...) and str(...) convert"
)
COMPARE_TIME_WITH_NUMBER = _error(
    "E124", _COMPARE, "compare a time with a time, or a difference with a duration: now - last_time(2) < 10m"
)
COMPARE_DURATION_WITH_NUMBER = _error("E124", _COMPARE, "write the number as a duration: 600s, 10m, 2h, 7d or 1w")
SET_WRONG_TYPE = _error("E124", "type error: '{name}' holds {wanted} values, not {got}")
SET_WRONG_TYPE_CONVERT = _error("E124", SET_WRONG_TYPE.text, "convert it, e.g. {target}(...)")
STORE_DURATION = _error(
    "E124", "type error: a duration can't be stored in a visitor field", "store a number of seconds instead"
)
ARITHMETIC_ON_TEXT = _error(
    "E124", "type error: arithmetic ('{op}') on a {kind}", 'use a template to join text: "{{{{ a }}}}{{{{ b }}}}"'
)
NUMBER_TOO_LARGE = _error("E126", "number {value} is too large")
DURATION_TOO_LARGE = _error("E126", "number {value} is too large", f"durations go up to {MAX_DURATION_DAYS} days")

# ----------------------------------------------------------------- warnings

UNREACHABLE_RULE = _warning(
    "W201",
    "this rule can never run: {detail}",
    "remove it, or move it above the rule that takes its events",
)
UNUSED = _warning("W202", "{kind} '{name}' is declared but never used")
NEVER_EQUAL = _warning("W203", "comparison is always {result}: {left} and {right} values are never equal")
TEMPLATE_PLACEHOLDER = _warning(
    "W206", "template: {text} is sent as it is, braces and all", "write {{{{ {name} }}}} to put in the value"
)
TEMPLATE_STRAY_BRACE = _warning(
    "W206",
    "template: this '}}' after '}}}}' is sent as it is",
    "remove it: '}}}}' alone closes the expression",
)
COMMENT_LINE_BREAK = _warning(
    "W205",
    "{char} in a comment: ppflow lines end only at line breaks, so the rest of this line is still the comment",
    "remove it, and put any code after it on a line of its own",
)
OWN_LAST_TIME = _warning(
    "W204",
    "{what} is the time of this very event here: statistics are updated before flows run",
    "for a cooldown keep your own time: field last_nudge datetime, "
    "then `set last_nudge = now` and test `now - last_nudge < 10m`",
)

# ----------------------------------------------------------------- helps built from the file's names

DID_YOU_MEAN = "did you mean '{}'?"
DECLARED = "declared {} are: {}"
FIELD_TYPES_ARE = "field types are: {}"
FUNCTIONS_ARE = "functions are: {}"

# ----------------------------------------------------------------- the registry

ALL: tuple[Message, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Message))
SEVERITY: dict[str, str] = {m.code: m.severity for m in ALL}
CODES: tuple[str, ...] = tuple(sorted(SEVERITY))

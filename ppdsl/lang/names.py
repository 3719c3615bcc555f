"""The prelude: the names the language knows before a file declares anything.
PPMessage's visitor variables, the current-event variables, the statistics,
and the built-in functions (one row each in FUNCTIONS)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .ir import Ty

# PPMessage system variables (string unless noted).
SYSTEM_VARS: dict[str, Ty] = {
    **{
        name: Ty("str")
        for name in (
            "user_fullname user_email user_mobile user_language user_country user_city "
            "customer_user_type browser_name browser_language page_url page_title user_channel"
        ).split()
    },
    "is_anonymous_user": Ty("bool"),
    "is_assigned_user": Ty("bool"),
    "user_web_sessions": Ty("int"),
    "ent_user_createtime": Ty("datetime"),
}

# The current event; these can't be set.
EVENT_VARS: dict[str, Ty] = {
    "track_event_seq": Ty("int", True),
    "track_event_uuid": Ty("str"),
    "track_event_count": Ty("int", True),
    "track_event_data": Ty("str"),
    "data": Ty("json"),
    "now": Ty("datetime", True),
}

BOOL = Ty("bool", True)

STAT_RE = re.compile(r"event_(count|first_time|last_time|last_data)_([0-9]+)$")
STAT_TYPES = {
    "count": Ty("int"),  # a visitor may hold anything: not `sure`
    "first_time": Ty("datetime"),
    "last_time": Ty("datetime"),
    "last_data": Ty("str"),
}
EXTRA_RE = re.compile(r"extra_field_[A-Za-z0-9_]+$")


# What each variable above means, for an editor's hover (docs/language.md section 5.5);
# a statistic's meaning is keyed by its kind and names its event as {seq}.
MEANINGS: dict[str, str] = {
    "user_fullname": "The visitor's full name.",
    "user_email": "The visitor's email address.",
    "user_mobile": "The visitor's mobile phone number.",
    "user_language": "The visitor's language.",
    "user_country": "The visitor's country.",
    "user_city": "The visitor's city.",
    "customer_user_type": "The visitor's customer type; `convert` sets it.",
    "browser_name": "The visitor's browser.",
    "browser_language": "The language of the visitor's browser.",
    "page_url": "The URL of the page the visitor is on.",
    "page_title": "The title of the page the visitor is on.",
    "user_channel": "The channel the visitor came through.",
    "is_anonymous_user": "Whether the visitor hasn't identified themselves.",
    "is_assigned_user": "Whether the visitor is already assigned to an agent.",
    "user_web_sessions": "How many web sessions the visitor has had.",
    "ent_user_createtime": "When the visitor was first seen.",
    "track_event_seq": "The number (SEQ) of the event being processed.",
    "track_event_uuid": "The current event's UUID (null when it has none).",
    "track_event_count": "Occurrences of this event so far, counting this one.",
    "track_event_data": "The current event's event_data as compact JSON text; null when there is none.",
    "data": "The current event's event_data, parsed; null when there is none.",
    "now": "The time of this event (not of the machine), so replaying an event gives the same result.",
    "count": "Occurrences of event {seq} so far (0 when it never happened).",
    "first_time": "When event {seq} first happened.",
    "last_time": "When event {seq} last happened.",
    "last_data": "The compact JSON text of the data that came with event {seq}'s latest occurrence.",
    "extra_field": "One of PPMessage's custom visitor fields (any JSON value).",
}


@dataclass(frozen=True)
class Function:
    """A built-in function: everything the checker, the code generator and an
    editor's hover need to know about it."""

    name: str
    params: tuple[tuple[str, ...], ...]  # per argument, the kinds it takes; () for any
    result: Ty
    helper: Optional[str]  # the runtime function it compiles to; None when compiled inline
    doc: str
    stat: bool = False  # count(E) and friends read an event statistic

    @property
    def arity(self) -> int:
        return len(self.params)

    @property
    def signature(self) -> str:
        names = {"str": "string", "list": "list"}
        args = ", ".join(" | ".join(names.get(k, k) for k in p) or "value" for p in self.params)
        return f"{self.name}({args}) -> {self.result.kind}"


_TEXT = ("str",)
_ANY: tuple[str, ...] = ()
_EVENT = ("event",)
FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "count", (_EVENT,), STAT_TYPES["count"], None, "How many times the visitor did event E (0 if never).", True
        ),
        Function("first_time", (_EVENT,), STAT_TYPES["first_time"], None, "When the visitor first did event E.", True),
        Function("last_time", (_EVENT,), STAT_TYPES["last_time"], None, "When the visitor last did event E.", True),
        Function(
            "last_data",
            (_EVENT,),
            STAT_TYPES["last_data"],
            None,
            "The event_data of E's latest occurrence, as JSON text.",
            True,
        ),
        Function("len", (("str", "list"),), Ty("int"), "_len", "The length of a string or a list."),
        Function("lower", (_TEXT,), Ty("str"), "_lower", "The string in lower case."),
        Function("upper", (_TEXT,), Ty("str"), "_upper", "The string in upper case."),
        Function(
            "contains",
            (("str", "list"), _ANY),
            BOOL,
            "_contains",
            "Whether a string holds a substring, a list an item, or an object a key.",
        ),
        Function("startswith", (_TEXT, _TEXT), BOOL, "_startswith", "Whether the string starts with the prefix."),
        Function("endswith", (_TEXT, _TEXT), BOOL, "_endswith", "Whether the string ends with the suffix."),
        Function(
            "matches",
            (_TEXT, _TEXT),
            BOOL,
            "_matches",
            "Whether a regular expression (a literal string) matches anywhere in the string.",
        ),
        Function(
            "json",
            (_TEXT,),
            Ty("json"),
            "_json_value",
            "Parse JSON text (such as last_data(E)) into a value; null if it isn't JSON.",
        ),
        Function(
            "int", (_ANY,), Ty("int"), "_int", "A whole number from a number, a bool or numeric text; null otherwise."
        ),
        Function(
            "float", (_ANY,), Ty("float"), "_float", "A number from a number, a bool or numeric text; null otherwise."
        ),
        Function("str", (_ANY,), Ty("str"), "_str", "The value as a template prints it."),
        Function("exists", (_ANY,), BOOL, None, "Whether the value is not null."),
    )
}
STAT_FUNCTIONS = tuple(f.name for f in FUNCTIONS.values() if f.stat)

FIELD_TYPES = {"int": "int", "float": "float", "string": "str", "bool": "bool", "datetime": "datetime"}

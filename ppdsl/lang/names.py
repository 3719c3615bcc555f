"""The names the language knows before a file declares anything: PPMessage's
visitor variables, the current-event variables and the callable functions."""

from __future__ import annotations

import re

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

STAT_RE = re.compile(r"event_(count|first_time|last_time|last_data)_([0-9]+)$")
STAT_TYPES = {
    "count": Ty("int"),  # a visitor may hold anything: not `sure`
    "first_time": Ty("datetime"),
    "last_time": Ty("datetime"),
    "last_data": Ty("str"),
}
EXTRA_RE = re.compile(r"extra_field_[A-Za-z0-9_]+$")

# name -> (fewest arguments, most arguments)
FUNCTIONS: dict[str, tuple[int, int]] = {
    "count": (1, 1),
    "first_time": (1, 1),
    "last_time": (1, 1),
    "last_data": (1, 1),
    "len": (1, 1),
    "lower": (1, 1),
    "upper": (1, 1),
    "contains": (2, 2),
    "startswith": (2, 2),
    "endswith": (2, 2),
    "matches": (2, 2),
    "json": (1, 1),
    "int": (1, 1),
    "float": (1, 1),
    "str": (1, 1),
    "exists": (1, 1),
}
STAT_FUNCTIONS = ("count", "first_time", "last_time", "last_data")

FIELD_TYPES = {"int": "int", "float": "float", "string": "str", "bool": "bool", "datetime": "datetime"}

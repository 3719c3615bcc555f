"""What the engine needs of a ruleset. A module from `ppdsl.load`, or one that
`ppdsl compile` wrote and a service vendored without ppdsl, fits as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Protocol
from collections.abc import Callable

Effects = Callable[[dict[str, Any]], object]
"""Called with each action; returning False or raising makes the action fail."""


class Ruleset(Protocol):
    """`handle` and `EVENTS`, as docs/language.md section 9 gives them. A module may
    also list `_TARGETS`, the agents and groups its actions aim at."""

    @property
    def EVENTS(self) -> Mapping[int, Mapping[str, Any]]: ...

    def handle(
        self,
        payload: Any,
        visitor: Optional[dict[str, Any]] = None,
        effects: Optional[Effects] = None,
        *,
        at: object = None,
    ) -> dict[str, Any]: ...

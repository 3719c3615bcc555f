"""Actions: reply, assign and ticket go through the host's `effects`; set
and convert change the visitor."""

from .common import _jsonable


# --- runtime ---
def _do(R, action):
    """Run a reply, assign or ticket through `effects`; False when it failed."""
    effects = R.effects
    if effects is None:
        R.actions.append(action)
        return True
    try:
        ok = effects(action) is not False
    except Exception as exc:  # the host's failure, recorded rather than raised
        action["error"] = f"{type(exc).__name__}: {exc}"
        ok = False
    (R.actions if ok else R.failed).append(action)
    return ok


def _set(R, V, flow, line, field, value):
    value = _jsonable(value)
    V[field] = value
    R.actions.append({"flow": flow, "line": line, "type": "set", "field": field, "value": value})


def _convert(R, V, flow, line, value):
    V["customer_user_type"] = value
    R.actions.append({"flow": flow, "line": line, "type": "convert", "customer_user_type": value})

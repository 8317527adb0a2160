"""Message templates written as data: ``{name}`` is replaced by a variable's text and
nothing else (no attribute access, no format specs, no expressions). The IVR's prompts
and the ACD's overflow messages use them."""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
VAR_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$")


def check_template(text: str) -> None:
    """Raise ``ValueError`` naming the first placeholder that is not a variable name."""
    for name in _PLACEHOLDER.findall(text):
        if not VAR_NAME.match(name):
            raise ValueError(f"{{{name}}} in {text!r} is not a variable name (like {{customer.first_name}})")


def render(text: str, variables: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders; an unset variable renders as empty text."""
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), ""), text)


def render_known(text: str, variables: Mapping[str, str]) -> str:
    """``render``, leaving out every sentence that names an unset variable: "You are
    number 2. The wait is about {ewt_minutes} minutes." without an estimate says only the
    first sentence."""
    sentences = _SENTENCE_END.split(text.strip())
    kept = [s for s in sentences if all(variables.get(n) for n in _PLACEHOLDER.findall(s))]
    return render(" ".join(kept), variables)

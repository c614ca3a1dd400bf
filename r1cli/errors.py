"""User-facing errors.

Every mistake a user can make (a bad flag, a missing file, a malformed line, an unknown key) raises
:class:`R1Error` with one line that says what is wrong, where, and what would work. ``r1cli.app``
prints it in red on stderr and exits with code 2; ``R1_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class R1Error(Exception):
    """A user mistake: printed as one line, exit code 2."""

    exit_code = 2


class MissingDependencyError(R1Error):
    """An optional extra (vllm, deepspeed, lm-eval, ...) is needed but not installed."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the optional package '{package}', which is not installed: "
            f"pip install 'r1cli[{extra}]' (or pip install {package})"
        )
        self.package = package
        self.extra = extra


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def one_of(choices: Iterable[str]) -> str:
    """Format valid choices for an error message: 'one of: a, b, c'."""
    return "one of: " + ", ".join(sorted(str(c) for c in choices))

"""Validation problems: what the API reports as `details` of a 422."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input, located by a JSON path such as `steps[2].then[0].duration`."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def join(path: str, key: str | int) -> str:
    """Extend a JSON path by an object key or a list index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class WrongState(Exception):
    """An action the thing's current state does not allow (publishing an archived scenario,
    editing a campaign that is sending). The API blueprint answers it, once for every route,
    with 409 {"error": {"code": "wrong_state", "message"}}."""


class Invalid(Exception):
    """Input refused with every problem found. The API blueprint answers it, once for every
    route, with 422 {"error": {"code": "invalid", "message", "details": problems}}."""

    def __init__(self, problems: list[Problem], message: str = "The request is not valid.") -> None:
        super().__init__("; ".join(f"{problem.path}: {problem.message}" for problem in problems[:5]))
        self.problems = problems
        self.message = message

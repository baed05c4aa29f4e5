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


class Invalid(Exception):
    """Input refused with every problem found; the API answers 422 with them as details."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{problem.path}: {problem.message}" for problem in problems[:5]))
        self.problems = problems

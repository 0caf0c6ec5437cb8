"""Errors that carry where in a file they were found."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in an input file, printed as ``PATH:LINE:COL: message``."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class InputError(Exception):
    """Bad input: one or more problems, each with its location.

    Commands print each problem on its own line to stderr and exit with code 2.
    """

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            self.text = problems
        else:
            self.problems = sorted(set(problems))
            self.text = "\n".join(str(p) for p in self.problems)
        super().__init__(self.text)

    def lines(self) -> list[str]:
        """The error as the lines a command prints."""
        return self.text.splitlines()

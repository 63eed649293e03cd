"""A reader of deploy/Dockerfile: its stages and their instructions, continuation lines joined.

Enough of the Dockerfile syntax for mailpoll's own file (FROM ... AS, COPY, RUN, ENV, WORKDIR,
ENTRYPOINT); anything it does not know stays in `Stage.instructions` for the test to refuse.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (KEYWORD, rest)

    def all(self, keyword: str) -> list[str]:
        return [rest for key, rest in self.instructions if key == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for rest in self.all("ENV"):
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                values[key] = value
        return values

    def entrypoint(self) -> list[str]:
        return list(json.loads(self.all("ENTRYPOINT")[-1]))


def stages(path: Path) -> list[Stage]:
    """The stages of a Dockerfile, in order."""
    found: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.IGNORECASE)
            assert match, f"FROM {rest}"
            found.append(Stage(match[1], match[2]))
        else:
            found[-1].instructions.append((keyword, rest.strip()))
    return found


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines

"""What the reports know about the scenario besides the run: its story, its YAML and a few capacities.

Reports read SimResult for everything measured; this carries only what the scenario says (the text a
person wrote, how many daemon workers and download slots each host has, which host is in which group)
so the HTML report can tell the story and the daemon chart can draw utilisation against capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dsim.scenarios.resolve import Resolved


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    description: str = ""
    story: str = ""  # the comment header of the YAML file, without the '#'
    yaml_text: str = ""
    source: str = ""  # the file as named on the command line
    overrides: tuple[str, ...] = ()
    workers: dict[str, int] = field(default_factory=dict)  # host -> daemon workers
    download_slots: dict[str, int] = field(default_factory=dict)  # host -> max_concurrent_downloads
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    resolved: Resolved | None = None

    @classmethod
    def from_resolved(cls, resolved: Resolved, path: str | Path | None = None,
                      overrides: tuple[str, ...] | list[str] = ()) -> ScenarioInfo:
        text = ""
        if path is not None:
            try:
                text = Path(path).read_text()
            except OSError:
                text = ""
        scenario = resolved.scenario
        return cls(
            name=scenario.name,
            description=scenario.description or "",
            story=comment_header(text),
            yaml_text=text,
            source=str(path) if path is not None else "",
            overrides=tuple(overrides),
            workers={h.name: h.spec.daemon.workers for h in resolved.hosts},
            download_slots={h.name: h.spec.daemon.max_concurrent_downloads for h in resolved.hosts},
            groups=dict(resolved.groups),
            resolved=resolved,
        )


def comment_header(text: str) -> str:
    """The leading comment block of a YAML file, '#' stripped, paragraphs kept (blank '#' lines)."""
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        body = stripped[1:]
        lines.append(body[1:] if body.startswith(" ") else body)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)

"""A failed job's error as messages of the sequence diagram (``dsim explain -o``): where the failure came
from (the kernel refusing a bind, a registry answering 429, a full disk, no guest memory left), the
daemon's error response to the client, and the line the docker CLI prints, in Docker's own words.

The cause is read from the error line as the workload results read it (dsim/workload_results.py), so
the diagram, the summary and the report agree on what failed.
"""

from __future__ import annotations

import re
import textwrap

from dsim.workload_results import FAILURE_CAUSES, failure_cause

#: Who refused, by cause: the lifeline the failure comes from.
ORIGIN = {"port_conflict": "kernel", "no_space": "kernel", "vm_memory": "kernel", "oom": "kernel",
          "rate_limited": "registry", "not_found": "registry"}
#: Characters per line of the CLI's error in the diagram (the figure is 10 inches wide).
WRAP = 100
_DAEMON = "Error response from daemon: "
_BIND = re.compile(r"Bind for \S+ failed: port is already allocated")


def _reason(error: str, cause: str) -> str:
    """What the refusing party said: the clause of dockerd's wrapped error that names the cause (and the
    clause after it, to the end of its first sentence), at most 90 characters."""
    bind = _BIND.search(error)
    if bind:
        return bind.group(0)
    body = error.split(_DAEMON, 1)[-1]
    pattern = dict(FAILURE_CAUSES).get(cause)
    clauses = body.split(": ")
    first = next((k for k, clause in enumerate(clauses) if pattern is not None and pattern.search(clause)), 0)
    text = ": ".join(clauses[first:first + 2])
    text = text.split(". ", 1)[0]
    return text if len(text) <= 90 else text[:87] + "..."


def failure_messages(error: str) -> list[tuple[str, str, str, str]]:
    """(from, to, label, style) for the end of a failed job: the refusal, the daemon's error response, and
    the CLI's line wrapped (style ``error``)."""
    text = error.strip() or "failed"
    cli = text if text.startswith("docker:") else f"docker: {text}"
    cause = failure_cause(text)
    origin = ORIGIN.get(cause)
    messages: list[tuple[str, str, str, str]] = []
    if origin is not None:
        messages.append((origin, "daemon", _reason(text, cause), "error"))
    if _DAEMON in text:
        messages.append(("daemon", "client", "Error response from daemon", "error"))
    messages += [("client", "client", line, "error") for line in textwrap.wrap(cli, WRAP)]
    return messages

"""busybox's ``ping`` (alpine's and busybox's images) over the daemon's networks as a container sees them
(netview.py): what it prints, when, and how it exits.

The rules are busybox's (``networking/ping.c``, https://git.busybox.net/busybox/tree/networking/ping.c):
- ``PING HOST (ADDRESS): 56 data bytes``, then a request every ``-i`` seconds (1) and, for each answer,
  ``64 bytes from ADDRESS: seq=N ttl=64 time=T ms`` (T in microseconds printed as ``%u.%03u``; Linux's default
  TTL is 64); ``-c`` stops after that many requests, ``-w`` at the first request due at or after its deadline;
  without either it pings until it is stopped;
- after the last of ``-c`` requests it waits for the answer, or ``-W`` seconds (10) when nothing ever answered,
  then prints its statistics (``N packets transmitted, M packets received, L% packet loss`` and, after any
  answer, ``round-trip min/avg/max``) and exits 1 when nothing answered (or fewer than ``-c`` with ``-w``);
- a name that does not resolve: ``ping: bad address 'NAME'``, exit 1.
The round trip is the network model's, the same for every request (the model has no jitter); an answer comes or
never does. Not modelled: the statistics a SIGINT prints (``^C``), IPv6 (``-6``), duplicates and TTL expiry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dsim.serve.netview import NetView

#: busybox ping's options that take an argument, and those that do not (getopt32's ``c:s:t:w:W:I:p:i:``)
_WITH_ARGUMENT = frozenset("cstwWIpi")
_FLAGS = frozenset("qvAn46")
_USAGE = "Usage: ping [OPTIONS] HOST\n"
#: busybox's MAXWAIT: seconds to wait for an answer after the last request when none came (-W's default)
_MAXWAIT = 10.0
#: the TTL of an answer from the same host: Linux's default (net.ipv4.ip_default_ttl)
_TTL = 64


@dataclass
class PingRun:
    """What one ``ping`` did: its writes (offset from its start, stream, text), how long it ran (inf: until
    stopped), its exit status, and for an endless one the answer line repeated (``{seq}`` numbering it)."""

    writes: list[tuple[float, int, str]] = field(default_factory=list)
    duration: float = 0.0
    status: int = 0
    #: (offset of the first answer, seconds between answers, the line with ``{seq}``)
    repeat: tuple[float, float, str] | None = None


def ping(args: list[str], view: NetView) -> PingRun:
    """``ping ARGS`` in a container whose networks are ``view``."""
    parsed = _options(args)
    if isinstance(parsed, str):
        return PingRun([(0.0, 2, parsed)], 0.0, 1)
    options, host = parsed
    numbers = {key: _number(options.get(key, default), int if key in "cs" else float)
               for key, default in (("c", "0"), ("s", "56"), ("i", "1"), ("w", "0"), ("W", str(_MAXWAIT)))}
    invalid = next((options[key] for key, value in numbers.items() if value is None), None)
    if invalid is not None:
        return PingRun([(0.0, 2, f"ping: invalid number '{invalid}'\n")], 0.0, 1)
    count, size = int(numbers["c"] or 0), int(numbers["s"] or 0)
    interval, deadline, wait = float(numbers["i"] or 0), float(numbers["w"] or 0), float(numbers["W"] or 0)
    address = None if "6" in options else view.resolve(host)
    if address is None:
        return PingRun([(0.0, 2, f"ping: bad address '{host}'\n")], 0.0, 1)
    rtt = view.round_trip(address)
    if rtt is not None and "A" in options:
        interval = rtt  # -A: the next request as soon as an answer comes
    run = PingRun([(0.0, 1, f"PING {host} ({address}): {size} data bytes\n")])
    answer = f"{size + 8} bytes from {address}: seq={{seq}} ttl={_TTL} time={_millis(rtt or 0.0)} ms\n"
    quiet = "q" in options
    if not count and not deadline:  # until stopped (busybox: -w 0 is no deadline); SIGINT's exit status
        run.duration, run.status = math.inf, 0 if rtt is not None else 1
        if rtt is not None and not quiet:
            run.repeat = (rtt, interval, answer)
        return run
    sent = _requests(count, interval, deadline)
    if rtt is not None and not quiet:
        run.writes += [(k * interval + rtt, 1, answer.replace("{seq}", str(k))) for k in range(sent)]
    if count and sent == count:  # every request went: the last answer, or -W without any
        run.duration = (sent - 1) * interval + (rtt if rtt is not None else wait)
    else:
        run.duration = sent * interval  # the request due at or after the deadline ends it instead
    received = sent if rtt is not None else 0
    run.writes.append((run.duration, 1, _statistics(host, sent, received, rtt)))
    run.status = 1 if received == 0 or (deadline and received < count) else 0
    return run


def _options(args: list[str]) -> tuple[dict[str, str], str] | str:
    """getopt's reading of the arguments: the options and the one HOST, or what busybox prints on stderr."""
    options: dict[str, str] = {}
    operands: list[str] = []
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if not word.startswith("-") or word == "-":
            operands.append(word)
            continue
        letters = word[1:]
        while letters:
            letter, letters = letters[0], letters[1:]
            if letter in _WITH_ARGUMENT:
                if not letters and not rest:
                    return f"ping: option requires an argument: {letter}\n{_USAGE}"
                options[letter], letters = (letters, "") if letters else (rest.pop(0), "")
            elif letter in _FLAGS:
                options[letter] = ""
            else:
                return f"ping: unrecognized option: {letter}\n{_USAGE}"
    if len(operands) != 1:
        return _USAGE
    return options, operands[0]


def _number(text: str, kind: type[int] | type[float]) -> int | float | None:
    try:
        return kind(text)
    except ValueError:
        return None


def _requests(count: int, interval: float, deadline: float) -> int:
    """How many requests go out: ``count``, or fewer when the deadline comes first (a request is sent only while
    its time is before the deadline)."""
    if not deadline:
        return count
    before_deadline = max(1, math.ceil(deadline / interval - 1e-9)) if interval > 0 else count
    return min(count, before_deadline) if count else before_deadline


def _millis(seconds: float) -> str:
    micros = int(round(seconds * 1e6))
    return f"{micros // 1000}.{micros % 1000:03d}"


def _statistics(host: str, sent: int, received: int, rtt: float | None) -> str:
    loss = (sent - received) * 100 // sent if sent else 0
    text = (f"\n--- {host} ping statistics ---\n"
            f"{sent} packets transmitted, {received} packets received, {loss}% packet loss\n")
    if received and rtt is not None:
        text += f"round-trip min/avg/max = {_millis(rtt)}/{_millis(rtt)}/{_millis(rtt)} ms\n"
    return text

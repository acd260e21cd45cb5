"""Optional probes attached by name to components, observing them from outside (no model logic here).

``World(spec, probes=("links",))`` attaches each named probe (``PROBES``) to the component it observes
through that component's observer hook, before time 0; the elaboration check (dsim/elaboration.py) verifies
that each one observes a component of the world.

``LinkProbe`` (``links``) measures link loads: when a flow finishes, and at most once per ``every`` simulated
seconds, it reads the network's per-link byte counters (``Network.link_bytes``, exact up to now) and keeps
what each directed link carried since the previous sample. At the end of the run the busiest links (and
every link leaving a registry) become ``link`` spans: subject ``a->b``, attrs ``bytes`` and ``capacity``
(bytes/s), so a chart can plot measured utilisation instead of estimating it from downloads.

It subscribes to the network's flow completions (``Network.on_flow_end``) and schedules no SimPy event (it
rides on the flows' own completion events), so a probed run is event for event the unprobed one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from simpy.events import Event

from dsim.components.network import Network
from dsim.records import Recorder, SpanKind

#: Links kept as spans besides every registry's own: the busiest by bytes carried.
KEEP_LINKS = 24
#: After this many samples the interval doubles (and again after as many more), so long runs stay small.
SAMPLE_BUDGET = 400


#: Every probe ``World`` can attach, by name.
PROBES = ("links",)
#: The links probe's interval when none is given (simulated seconds; as dsim.run.LINK_SAMPLE_S).
LINK_SAMPLE_S = 1.0


class Probe(Protocol):
    """What the world needs of a probe: the component it observes (for the elaboration check) and ``finish``,
    called once at the end of the run to record what it measured."""

    @property
    def target(self) -> object: ...

    def finish(self) -> None: ...


def attach(name: str, *, network: Network, recorder: Recorder, registries: Iterable[str],
           link_samples: float = LINK_SAMPLE_S) -> Probe:
    """Build the probe called ``name`` and subscribe it to the component it observes."""
    if name == "links":
        probe = LinkProbe(network, recorder, set(registries), link_samples)
        network.on_flow_end(probe.on_flow_end)
        return probe
    raise ValueError(f"unknown probe '{name}' (known: {', '.join(PROBES)})")


class LinkProbe:
    def __init__(self, network: Network, recorder: Recorder, registries: set[str], every: float = LINK_SAMPLE_S
                 ) -> None:
        self.network = network
        self.env = network.env
        self.recorder = recorder
        self.registries = registries
        self.every = every
        self.capacity: dict[tuple[str, str], float] = {}
        for a, b, data in network.graph.edges(data=True):
            self.capacity[(a, b)] = self.capacity[(b, a)] = float(data.get("capacity", float("inf")))
        self._last_t = 0.0
        self._last: dict[tuple[str, str], float] = {}
        self._samples: list[tuple[float, float, dict[tuple[str, str], float]]] = []

    def on_flow_end(self, _event: Event) -> None:
        if self.env.now - self._last_t >= self.every:
            self.sample()

    @property
    def target(self) -> Network:
        return self.network

    def sample(self) -> None:
        now = self.env.now
        if now <= self._last_t:
            return
        carried = self.network.link_bytes()
        deltas = {link: total - self._last.get(link, 0.0) for link, total in carried.items()
                  if total - self._last.get(link, 0.0) > 0}
        if deltas:
            self._samples.append((self._last_t, now, deltas))
            if len(self._samples) % SAMPLE_BUDGET == 0:
                self.every *= 2
        self._last, self._last_t = carried, now

    def finish(self) -> None:
        """Take the last sample and record the kept links' samples as ``link`` spans."""
        self.sample()
        totals: dict[tuple[str, str], float] = {}
        for _, _, deltas in self._samples:
            for link, carried in deltas.items():
                totals[link] = totals.get(link, 0.0) + carried
        busiest = sorted(totals, key=lambda link: (-totals[link], link))[:KEEP_LINKS]
        kept = set(busiest) | {link for link in totals if link[0] in self.registries}
        for start, end, deltas in self._samples:
            for link in sorted(deltas):
                if link in kept:
                    self.recorder.span(SpanKind.LINK, f"{link[0]}->{link[1]}", start, end, bytes=deltas[link],
                                       capacity=self.capacity.get(link, float("inf")))


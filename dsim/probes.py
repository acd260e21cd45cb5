"""Optional probes the world attaches to components to observe them from outside (no model logic here).

``LinkProbe`` measures link loads: when a flow finishes, and at most once per ``every`` simulated seconds,
it reads the network's per-link byte counters (``Network.link_bytes``, exact up to now) and keeps what
each directed link carried since the previous sample. At the end of the run the busiest links (and every
link leaving a registry) become ``link`` spans: subject ``a->b``, attrs ``bytes`` and ``capacity``
(bytes/s), so a chart can plot measured utilisation instead of estimating it from downloads.

It schedules no SimPy event (it rides on the flows' own completion events), so a probed run is event for
event the unprobed one.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import simpy
from simpy.events import Event

from dsim.components.network import Network
from dsim.records import Recorder, SpanKind

#: Links kept as spans besides every registry's own: the busiest by bytes carried.
KEEP_LINKS = 24
#: After this many samples the interval doubles (and again after as many more), so long runs stay small.
SAMPLE_BUDGET = 400


class LinkProbe:
    def __init__(self, env: simpy.Environment, graph: nx.Graph, recorder: Recorder, registries: set[str],
                 every: float = 1.0) -> None:
        self.env = env
        self.recorder = recorder
        self.registries = registries
        self.every = every
        self.network: Network | None = None
        self.capacity: dict[tuple[str, str], float] = {}
        for a, b, data in graph.edges(data=True):
            self.capacity[(a, b)] = self.capacity[(b, a)] = float(data.get("capacity", float("inf")))
        self._last_t = 0.0
        self._last: dict[tuple[str, str], float] = {}
        self._samples: list[tuple[float, float, dict[tuple[str, str], float]]] = []

    def on_flow_end(self, _event: Event) -> None:
        if self.env.now - self._last_t >= self.every:
            self.sample()

    def sample(self) -> None:
        assert self.network is not None
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


class ProbedNetwork(Network):
    """The network, with every flow's completion reported to a LinkProbe."""

    def __init__(self, env: simpy.Environment, graph: nx.Graph, probe: LinkProbe) -> None:
        super().__init__(env, graph)
        self.probe = probe
        probe.network = self

    def transfer(self, *args: Any, **kwargs: Any) -> Event:
        event = super().transfer(*args, **kwargs)
        if event.callbacks is not None:
            event.callbacks.append(self.probe.on_flow_end)
        return event

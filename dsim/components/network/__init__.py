"""Fluid network: flows share directed links by max-min fairness (progressive filling).

The package, top down:

* ``driver.py``: ``Network``, the face the simulation uses (``transfer``, ``rtt``, counters) and the
  SimPy wake-up that drives the solver;
* ``topology.py``: ``Topology``, paths, round trips and capacities from the networkx graph;
* ``solver.py``: ``FairShareSolver``, the max-min fair solver (pure: plain floats for times, no SimPy),
  with ``filling.py`` (progressive filling of one component), ``slack.py`` (how shared links that do
  not bind are watched) and ``state.py`` (its records: ``Link``, ``FlowClass``, ``Bucket``);
* ``statistics.py``: bytes carried, rates and loads, read from the solver's state.

The flow solver is dsim's hot path (every pull and push is flows), so it is built to cost little per event:

* **Classes.** Flows with the same ``(src, dst, cap)`` have the same path and therefore the same
  max-min rate; they form one class with a multiplicity ``n``.  A class keeps a *virtual clock* (bytes
  each of its flows has received since the class was created) and a heap of finish marks, so progress
  costs nothing per flow.
* **Private links become caps.** A finite link crossed by a single class only limits that class, to
  ``capacity / n`` per flow, so it is folded with the per-flow ``cap`` into the class's private cap.
* **Slack links are only watched.** A shared link that does not bind leaves the max-min allocation as it
  is, so a shared link starts *slack*: left out of the filling, its load is only checked against its
  capacity (budgets per bucket, or an exact running load when many buckets cross it).  When it would
  overflow it becomes *tight* and is filled; a tight link with 10% of its capacity unused becomes slack
  again.  A class nothing else bounds always keeps one tight link.
* **Buckets share a clock.** Classes with the same tight links (their signature) form a bucket.  Every
  member not held below the bucket's level by its private cap gets exactly that level, so those members
  ride one bucket clock (each class keeps an offset into it) and one heap of class heads.  In a
  registry-bound fleet pull, 1,000 hosts are one bucket on one tight link: a start or a finish costs
  O(log n), not O(hosts); with two registries the host NICs they share stay slack and it is two buckets.
* **Selective update.** A start or a finish re-solves only the connected component (through tight links)
  of the buckets it touched.  Which members are capped is remembered between solves and only re-checked,
  so a steady state costs O(tight links + buckets) per solve, not O(classes).  What stays expensive is
  a component with many tight links at once (e.g. hundreds of saturated NICs each shared by two sources
  while the sources' links are near saturation too): that solve is O(buckets log buckets).
* **One driver.** A single pre-triggered SimPy event, at a priority below NORMAL, owns the network: it
  wakes at the next completion and also after every instant with starts or finishes, so all the starts
  and finishes of one instant are solved together.  There is no process per flow and no polling.

Determinism: everything is iterated in insertion order (dicts and lists, never sets), heaps break ties
with the solver's sequence number, so the same calls in the same order give identical results in any process.
"""

from dsim.components.network.driver import Network
from dsim.components.network.solver import FairShareSolver
from dsim.components.network.topology import Topology

__all__ = ["FairShareSolver", "Network", "Topology"]

"""A picture of a scenario's network: registries, mirrors, switches and host groups with link capacities.

Drawn from the same networkx graph the simulation routes flows on (``dsim.world.build_graph``), with each
host group collapsed into one node (a group of 20 runners is one box, its links labelled "each").
The layout is layered by hop distance from the registries, so it is deterministic and reads top-down:
where the bytes come from, what they cross, where they land.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import networkx as nx
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from dsim.reports.style import figure, format_rate, save
from dsim.scenarios.resolve import Resolved
from dsim.units import format_duration

KIND_STYLE = {
    "registry": ("#0072B2", "white"),
    "mirror": ("#56B4E9", "black"),
    "hosts": ("#009E73", "white"),
    "network": ("#EEEEEE", "black"),
}


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def _upstream(resolved: Resolved, name: str) -> str | None:
    """The registry a pull-through mirror caches, if ``name`` is one."""
    registry = resolved.registries.get(name)
    return getattr(registry, "upstream", None) if registry is not None else None


def collapsed_graph(resolved: Resolved) -> nx.Graph:
    """The simulation's graph with each host group as one node; attrs: kind, label, members; edge capacity,
    latency and ``each`` (how many parallel per-host links the edge stands for)."""
    from dsim.world import build_graph

    graph = build_graph(resolved)
    group_of = {host.name: host.group for host in resolved.hosts}
    specs = {host.group: host.spec for host in resolved.hosts}
    members: dict[str, list[str]] = defaultdict(list)
    for host in resolved.hosts:
        members[host.group].append(host.name)
    out = nx.Graph()
    for node in sorted(graph.nodes, key=_natural):
        name = group_of.get(node, node)
        if name in out:
            continue
        if node in group_of:
            spec = specs[name]
            count = len(members[name])
            title = f"{name} x{count}" if count > 1 else name
            detail = f"{spec.cpus:g} CPU, {spec.memory / 2**30:.3g} GiB\nnic {format_rate(spec.nic)}"
            out.add_node(name, kind="hosts", label=f"{title}\n{detail}", members=count)
        elif node in resolved.registries:
            registry = resolved.registries[node]
            upstream = _upstream(resolved, node)
            kind = "mirror" if upstream else "registry"
            detail = f"egress {format_rate(registry.bandwidth)}, {format_duration(registry.latency)}"
            if upstream:
                detail += f"\npull-through of {upstream}"
            out.add_node(name, kind=kind, label=f"{node}\n{detail}", members=1)
        else:
            out.add_node(name, kind="network", label=node, members=1)
    for a, b, data in sorted(graph.edges(data=True), key=lambda e: (_natural(str(e[0])), _natural(str(e[1])))):
        ga, gb = group_of.get(a, a), group_of.get(b, b)
        if ga == gb:
            continue
        if out.has_edge(ga, gb):
            out[ga][gb]["each"] += 1
            continue
        out.add_edge(ga, gb, capacity=data.get("capacity", math.inf), latency=data.get("latency", 0.0), each=1)
    return out


def _layout(graph: nx.Graph, resolved: Resolved) -> dict[str, tuple[float, float]]:
    """Layers by hop distance from the nearest registry; nodes in a layer spread evenly, sorted by name."""
    sources = [n for n, d in graph.nodes(data=True) if d["kind"] in ("registry", "mirror")]
    distance: dict[str, int] = {}
    if sources:
        for node, hops in nx.multi_source_dijkstra_path_length(graph, sources, weight=lambda u, v, d: 1).items():
            distance[node] = int(hops)
    deepest = max(distance.values(), default=0)
    for node in graph.nodes:
        if node not in distance:
            distance[node] = deepest + 1
    # host groups sit on the bottom row: they are where the bytes land
    bottom = max(distance.values(), default=0)
    for node, data in graph.nodes(data=True):
        if data["kind"] == "hosts":
            distance[node] = max(bottom, 1)
    layers: dict[int, list[str]] = defaultdict(list)
    for node, layer in distance.items():
        layers[layer].append(node)
    positions: dict[str, tuple[float, float]] = {}
    widest = max((len(nodes) for nodes in layers.values()), default=1)
    for layer, nodes in layers.items():
        nodes.sort(key=_natural)
        for i, node in enumerate(nodes):
            x = (i + 0.5) * widest / len(nodes)
            positions[node] = (x, -float(layer))
    return positions


def _edge_label(data: dict[str, Any]) -> str:
    text = format_rate(data["capacity"])
    if data.get("each", 1) > 1:
        text += " each"
    if data.get("latency", 0.0) > 0:
        text += f"\n{format_duration(data['latency'])}"
    return text


def draw_topology(resolved: Resolved, path: Path) -> Any:
    """Draw the topology PNG (or SVG by suffix); returns a Chart for the HTML report."""
    from dsim.reports.charts import Chart

    graph = collapsed_graph(resolved)
    positions = _layout(graph, resolved)
    xs = [p[0] for p in positions.values()] or [0.0]
    ys = [p[1] for p in positions.values()] or [0.0]
    width = max(6.0, min(16.0, 2.3 * (max(xs) - min(xs) + 1.5)))
    height = max(3.2, min(10.0, 1.35 * (max(ys) - min(ys) + 1.5)))
    capacities = [d["capacity"] for _, _, d in graph.edges(data=True) if not math.isinf(d["capacity"])]
    top = max(capacities, default=1.0)
    with figure(width, height) as (fig, ax):
        for a, b, data in graph.edges(data=True):
            (x0, y0), (x1, y1) = positions[a], positions[b]
            cap = data["capacity"]
            lw = 4.0 if math.isinf(cap) else 0.8 + 3.2 * math.log10(1 + 9 * cap / top)
            ax.plot([x0, x1], [y0, y1], color="#555555", linewidth=lw, zorder=1, solid_capstyle="round")
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, _edge_label(data), fontsize=7, ha="center", va="center",
                    zorder=3, bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"})
        for name in graph.nodes:
            upstream = _upstream(resolved, name)
            if upstream and upstream in positions:
                arrow = FancyArrowPatch(positions[upstream], positions[name], arrowstyle="-|>",
                                        mutation_scale=12, linestyle="--", color="#CC79A7",
                                        connectionstyle="arc3,rad=0.25", zorder=2, linewidth=1.2)
                ax.add_artist(arrow)  # not add_patch: the limits are set below (no data limits needed)
        for name, data in graph.nodes(data=True):
            x, y = positions[name]
            face, ink = KIND_STYLE[data["kind"]]
            ax.text(x, y, data["label"], ha="center", va="center", fontsize=8, color=ink, zorder=4,
                    bbox={"boxstyle": "round,pad=0.45", "facecolor": face, "edgecolor": "#333333", "linewidth": 0.6})
        ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
        ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
        ax.axis("off")
        legend: list[Any] = [FancyBboxPatch((0, 0), 1, 1, facecolor=KIND_STYLE[k][0], edgecolor="#333333", label=label)
                  for k, label in (("registry", "registry"), ("mirror", "pull-through mirror"),
                                   ("hosts", "host group"), ("network", "switch / network node"))
                  if any(d["kind"] == k for _, d in graph.nodes(data=True))]
        if any(_upstream(resolved, n) for n in graph.nodes):
            legend.append(Line2D([], [], color="#CC79A7", linestyle="--", label="mirror's upstream"))
        # the legend and title fit the figure's width (a narrow one has ~11 bold characters an inch at 10 pt)
        columns = max(1, min(len(legend), int(width // 2.2)))
        ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=columns, fontsize=7)
        hosts = len(resolved.hosts)
        groups = len(resolved.groups)
        ax.set_title("\n".join(textwrap.wrap(
            f"{resolved.name}: network topology ({hosts:,} host{'s' if hosts != 1 else ''} in {groups} "
            f"group{'s' if groups != 1 else ''}; line width ~ capacity)", int(width * 10))))
        save(fig, path)
    return Chart("topology", path, "Topology",
                 "Registries, mirrors, network nodes and host groups as the simulation routes flows between them; "
                 "each link is labelled with its capacity (and one-way latency), a host group's links are one "
                 "per host ('each').")

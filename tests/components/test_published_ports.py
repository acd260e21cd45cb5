"""Published ports at a container's start and exit (components/networks.py, teardown.py), against closed forms worked
out by hand.

A published port adds ``rules_per_port`` rules. At start each rule is checked and appended and the port makes
``port_checks`` checks of its own, one ``iptables`` process of ``iptables_run`` r CPU each, every rule's pair paying
``iptables_per_rule`` q for each rule in the table before it; the port starts ``proxies_per_port`` ``docker-proxy``
processes of ``proxy_start`` P CPU each, and a udp port ``udp_port_flushes`` flushes of the conntrack table of F
each (B buckets of ``conntrack_bucket_scan`` each): all on dockerd's cgroup, one container's ports at a time on the
host (Docker 28.5.2 measured so: tools/real_docker.py ports). At the exit the same processes check and delete them,
with dockerd's ``port_release`` V (a wait, as the rest of the exit's work is), each deletion then committed
(``rule_delete_wait`` R), one container's ports at a time on the host, under the same lock (measured so too). A
container of p ports with k = p x rules_per_port rules on a table of T rules:

    start = (2 k + p x port_checks) r + q (k T + k (k - 1) / 2) + p x proxies_per_port x P + u x udp_port_flushes x F
    exit  = (2 k + p x port_checks) r + q (k T' + k (k - 1) / 2) + p V + k R, T' the table without its rules

u of the p ports udp ones. V is 0 but where a test sets it. Every other cost is zero (runtime steps, API calls,
commits, Docker 28's endpoint rule, the interface's return, the veth pair's deletion), so these are all there is.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_text

RUNTIME = "{create: 0s, mount: 0s, netns: 0s, start: 0s, exec: 0s}"
QUIET = ("store_commit: 0s, endpoint_rules: 0, iface_return: 0s, veth_teardown: 0s, iptables_run: 1ms, "
         "proxy_start: 10ms, rule_delete_wait: 50ms, port_release: 0s")


def costs(networking: str) -> str:
    """QUIET with ``networking``'s fields in place of its own."""
    given = dict(field.split(": ", 1) for field in f"{QUIET}, {networking}".split(", "))
    return ", ".join(f"{key}: {value}" for key, value in given.items())


def scenario(steps: str, *, networking: str, count: int = 1, cpus: int = 64) -> str:
    return f"""
    name: t
    hosts:
      h: {{cpus: {cpus}, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}},
           preloaded: ["nginx:1.25"], runtime: {RUNTIME}, networking: {{{costs(networking)}}}}}
    workloads:
      w: {{arrival: {{burst: {count}}}, steps: {steps}}}
    """


def ports(count: int, first: int = 8000) -> str:
    return "[" + ", ".join(f'"{first + i}:80"' for i in range(count)) + "]"


def test_a_containers_ports_cost_their_processes_the_growing_table_and_their_proxies() -> None:
    # p = 4 ports, 2 rules each (k = 8), 3 checks a port, 2 proxies a port, on dockerd's 20 rules: (16 + 12) x 1 ms
    # + 0.1 ms x (8 x 20 + 28) + 8 x 10 ms = 28 + 18.8 + 80 = 126.8 ms, all CPU, alone on the host
    result = run_text(scenario(f'[{{run: {{image: "nginx:1.25", detach: true, ports: {ports(4)}}}}}]',
                               networking="iptables_per_rule: 100us, base_rules: 20"))
    [span] = result.spans_of("iptables")
    assert span.duration == pytest.approx(0.028 + 0.0188 + 0.080)
    assert (span.attrs["rules"], span.attrs["table"]) == (8, 28)
    [start] = result.spans_of("start")
    assert start.duration == pytest.approx(span.duration)


@pytest.mark.parametrize(("checks", "proxies", "rules"), [(3, 2, 2), (2, 0, 3), (0, 0, 3)])
def test_the_userland_proxy_and_dockers_version_set_the_processes_a_port(checks: int, proxies: int,
                                                                          rules: int) -> None:
    # one port, no growth: (2 rules + checks) x 1 ms + proxies x 10 ms. Docker 28 with the userland proxy (7
    # processes, 2 proxies: 27 ms), without it (8 processes: 8 ms), Docker 17 without it (6 processes: 6 ms)
    networking = f"iptables_per_rule: 0s, port_checks: {checks}, proxies_per_port: {proxies}, rules_per_port: {rules}"
    result = run_text(scenario(f'[{{run: {{image: "nginx:1.25", detach: true, ports: {ports(1)}}}}}]',
                               networking=networking))
    [span] = result.spans_of("iptables")
    assert span.duration == pytest.approx((2 * rules + checks) * 0.001 + proxies * 0.010)


def test_containers_started_at_once_program_their_ports_one_container_at_a_time() -> None:
    # 3 containers at t = 0, 5 ports each (k = 10): W = (20 + 15) x 1 ms + 10 x 10 ms = 135 ms each (no growth). One
    # container's ports at a time (measured: 5 containers of 25 ports ended 1.4 s apart): the starts end at W, 2W,
    # 3W, not all near 3W as rules interleaved one by one would
    steps = '[{run: {image: "nginx:1.25", detach: true, ports: ["80", "81", "82", "83", "84"]}}]'  # ephemeral
    result = run_text(scenario(steps, networking="iptables_per_rule: 0s", count=3))
    ends = sorted(span.end for span in result.spans_of("start"))
    assert ends == pytest.approx([0.135, 0.270, 0.405])
    assert sorted(span.attrs["wait"] for span in result.spans_of("iptables")) == pytest.approx([0.0, 0.135, 0.270])


def test_the_ports_cpu_shares_the_host_with_other_work() -> None:
    # one CPU, one port's work (2 rules + 3 checks: 7 ms, 2 proxies: 20 ms, 27 ms of CPU) beside a container that
    # burns the CPU: processor sharing halves its rate, so it takes 54 ms
    result = run_text(f"""
    name: t
    hosts:
      h: {{cpus: 1, daemon: {{api_service_time: 0s, workers: 1000, metadata_commit: 0s}},
           preloaded: ["nginx:1.25"], runtime: {RUNTIME}, networking: {{{QUIET}, iptables_per_rule: 0s}}}}
    workloads:
      hog: {{arrival: {{burst: 1}}, steps: [{{run: {{image: "nginx:1.25", network: host, cpu_time: 10s}}}}]}}
      w: {{arrival: {{burst: 1, at: 1s}}, steps: [{{run: {{image: "nginx:1.25", detach: true, ports: ["8000:80"]}}}}]}}
    """)
    [span] = result.spans_of("iptables")
    assert span.duration == pytest.approx(2 * 0.027)


def test_the_exit_checks_and_deletes_the_ports_rules_and_rm_waits_for_them() -> None:
    # one container, p = 2 ports (k = 4 rules) on dockerd's 20 rules; runs 10 s, then rm. Exit: (8 + 6) x 1 ms
    # + 0.1 ms x (4 x 20 + 6) + 4 x 50 ms = 14 + 8.6 + 200 = 222.6 ms after the exit at S + 10 s, where S, its
    # start, is (8 + 6) x 1 ms + 0.1 ms x (4 x 20 + 6) + 4 x 10 ms = 62.6 ms; rm takes no time of its own
    steps = f'[{{run: {{image: "nginx:1.25", duration: 10s, ports: {ports(2)}}}}}, {{rm: {{}}}}]'
    result = run_text(scenario(steps, networking="iptables_per_rule: 100us, base_rules: 20"))
    [job] = result.jobs
    start = 0.014 + 0.0086 + 0.040
    assert job.duration_s == pytest.approx(start + 10.0 + 0.014 + 0.0086 + 0.200)


def test_exits_at_once_release_their_ports_one_container_at_a_time() -> None:
    # 3 containers with 1 port each (k = 2) at once: each start is 27 ms of CPU, one container's ports at a time,
    # so they start at 27, 54, 81 ms and exit 10 s later, 27 ms apart; a release holds the host's ports for its 7
    # processes (7 ms) and its 2 deletions (100 ms), 107 ms, more than the 27 ms between exits: the releases pass
    # one container at a time from the first exit at 27 ms + 10 s, the k-th ending k x 107 ms after it
    steps = '[{run: {image: "nginx:1.25", duration: 10s, ports: ["8000"]}}, {rm: {}}]'
    result = run_text(scenario(steps, networking="iptables_per_rule: 0s", count=3))
    ends = sorted(job.end_s for job in result.jobs)
    assert ends == pytest.approx([0.027 + 10.0 + k * 0.107 for k in range(1, 4)])


def test_a_start_waits_for_an_exit_releasing_its_ports() -> None:
    # a running with 1 port, b created with 1 port; a killed, then 1 ms later b started: a's release holds the
    # host's port lock 7 + 100 ms from a's exit, so b's ports (27 ms) wait 106 ms for it and end 133 ms after they
    # were asked for (Docker 28.5.2: a start beside an exit of 25 ports each ended 1.27 s after it)
    steps = ('[{run: {name: a, image: "nginx:1.25", detach: true, ports: ["8000"]}}, '
             '{create: {name: b, image: "nginx:1.25", ports: ["8001"]}}, {kill: {container: a}}, {sleep: 1ms}, '
             '{start: {container: b}}]')
    result = run_text(scenario(steps, networking="iptables_per_rule: 0s"))
    [job] = result.jobs
    assert job.status == "completed", job.error
    [span] = [span for span in result.spans_of("iptables") if span.subject == "b"]
    assert span.attrs["wait"] == pytest.approx(0.106)
    assert span.duration == pytest.approx(0.106 + 0.027)


def test_dockerds_own_work_a_port_at_the_exit() -> None:
    # port_release 20 ms (a wait beside the 7 ms of processes and the 100 ms of deletions): start 27 ms, the exit's
    # release 127 ms, run 10 s, rm free
    steps = '[{run: {image: "nginx:1.25", duration: 10s, ports: ["8000"]}}, {rm: {}}]'
    result = run_text(scenario(steps, networking="iptables_per_rule: 0s, port_release: 20ms"))
    [span] = result.spans_of("iptables")
    assert span.duration == pytest.approx(0.027)
    [job] = result.jobs
    assert job.duration_s == pytest.approx(0.027 + 10.0 + 0.127)


def test_a_udp_port_flushes_the_conntrack_table_and_a_tcp_port_does_not() -> None:
    # a tcp and a udp port: 27 ms each of processes and proxies (54 ms), and the udp port's 4 flushes of 100,000
    # buckets at 100 ns a bucket, 10 ms each: 94 ms of dockerd's CPU at start; the exit flushes nothing for them
    steps = '[{run: {image: "nginx:1.25", duration: 10s, ports: ["8000:80", "8001:53/udp"]}}, {rm: {}}]'
    result = run_text(scenario(steps, networking="iptables_per_rule: 0s, udp_port_flushes: 4, "
                                                 "conntrack_buckets: 100000, conntrack_bucket_scan: 100ns"))
    [span] = result.spans_of("iptables")
    assert span.duration == pytest.approx(0.054 + 0.040)
    [job] = result.jobs
    assert job.duration_s == pytest.approx(0.094 + 10.0 + 2 * 0.107)


@pytest.mark.parametrize(("memory", "buckets"), [("16GiB", 262_144), ("4GiB", 65_536), ("2GiB", 65_536),
                                                 ("1GiB", 8_192), ("64MiB", 1_024)])
def test_the_conntrack_table_is_sized_from_the_hosts_memory_as_linux_does(memory: str, buckets: int) -> None:
    # nf_conntrack_init_start: above 4 GiB 262,144 buckets, above 1 GiB 65,536, else memory / 16,384 / 8 (1 GiB:
    # 8,192), at least 1,024 (64 MiB: 512 -> 1,024); a udp port's 2 flushes at 1 us a bucket take 2 x buckets us
    text = scenario('[{run: {image: "nginx:1.25", detach: true, ports: ["8000:53/udp"]}}]',
                    networking="iptables_per_rule: 0s, proxies_per_port: 0, port_checks: 0, iptables_run: 0s, "
                               "udp_port_flushes: 2, conntrack_bucket_scan: 1us")
    result = run_text(text.replace("{cpus: 64,", f"{{cpus: 64, memory: {memory},"))
    [span] = result.spans_of("iptables")
    assert span.duration == pytest.approx(2 * buckets * 1e-6)

"""busybox ping's rules (dsim/serve/ping.py) on a hand-made network view, and the view of a daemon's networks
(dsim/serve/netview.py) on a real NetworkStack.

Expectations from busybox's networking/ping.c and Docker's networking rules (docs/serve.md): a request every
second, an answer a round trip later, statistics after the last answer (or -W seconds after the last request
when nothing answered), exit 1 when nothing answered. The round trip on one host's bridge is the network
model's: 2 x (loopback 7.9 us + bridge 1.14 us) = 18.08 us, printed as whole microseconds, 0.018 ms.
"""

from __future__ import annotations

import math

import pytest

from dsim.components.networks import NetworkStack
from dsim.serve.commands import STDERR, STDOUT, Context, interpret
from dsim.serve.netview import Member, NetView, net_view
from dsim.serve.ping import ping
from tests.components.test_networks import drive, start, world

RTT = 2 * (7.9e-6 + 1.14e-6)
VIEW = NetView(addresses=("172.18.0.3",), names=(("db", "172.18.0.2"),), peers=(("172.18.0.2", RTT),),
               loopback=2 * 7.9e-6)


def _text(writes: list[tuple[float, int, str]], stream: int = STDOUT) -> str:
    return "".join(text for _, s, text in writes if s == stream)


def test_two_answers_then_the_statistics_at_the_last_answer() -> None:
    run = ping(["-c", "2", "db"], VIEW)
    assert [at for at, _, _ in run.writes] == pytest.approx([0.0, RTT, 1.0 + RTT, 1.0 + RTT])
    assert _text(run.writes) == (
        "PING db (172.18.0.2): 56 data bytes\n"
        "64 bytes from 172.18.0.2: seq=0 ttl=64 time=0.018 ms\n"
        "64 bytes from 172.18.0.2: seq=1 ttl=64 time=0.018 ms\n"
        "\n--- db ping statistics ---\n"
        "2 packets transmitted, 2 packets received, 0% packet loss\n"
        "round-trip min/avg/max = 0.018/0.018/0.018 ms\n")
    assert (run.duration, run.status) == (pytest.approx(1.0 + RTT), 0)


def test_an_address_nobody_answers_waits_W_after_the_last_request_and_exits_1() -> None:
    run = ping(["-c", "3", "172.19.0.2"], VIEW)
    assert run.duration == pytest.approx(2.0 + 10.0)  # requests at 0, 1, 2; busybox's MAXWAIT of 10 s
    assert run.status == 1
    assert _text(run.writes).endswith("3 packets transmitted, 0 packets received, 100% packet loss\n")
    assert "round-trip" not in _text(run.writes)
    assert ping(["-c", "1", "-W", "2", "172.19.0.2"], VIEW).duration == pytest.approx(2.0)


def test_a_deadline_ends_at_the_first_request_due_at_or_after_it() -> None:
    run = ping(["-w", "3", "db"], VIEW)  # requests at 0, 1, 2; the one due at 3 s ends it
    assert (run.duration, run.status) == (pytest.approx(3.0), 0)
    assert "3 packets transmitted, 3 packets received" in _text(run.writes)
    short = ping(["-c", "5", "-w", "2", "db"], VIEW)  # fewer answers than -c before the deadline: exit 1
    assert (short.duration, short.status) == (pytest.approx(2.0), 1)
    assert "2 packets transmitted, 2 packets received, 0% packet loss" in _text(short.writes)


def test_interval_size_quiet_and_adaptive() -> None:
    run = ping(["-c", "3", "-i", "0.2", "-s", "100", "-q", "db"], VIEW)
    assert _text(run.writes).startswith("PING db (172.18.0.2): 100 data bytes\n\n--- db ping")
    assert run.duration == pytest.approx(0.4 + RTT)
    assert "108 bytes" in _text(ping(["-c1", "-s100", "db"], VIEW).writes)  # ICMP's 8-byte header
    adaptive = ping(["-A", "-c", "3", "db"], VIEW)  # the next request as soon as the answer comes
    assert adaptive.duration == pytest.approx(3 * RTT)


def test_without_count_or_deadline_it_pings_until_stopped() -> None:
    run = ping(["db"], VIEW)
    assert math.isinf(run.duration) and run.status == 0
    assert run.repeat == (pytest.approx(RTT), 1.0, "64 bytes from 172.18.0.2: seq={seq} ttl=64 time=0.018 ms\n")
    assert ping(["-w", "0", "db"], VIEW).repeat is not None  # busybox: a deadline of 0 is none
    program = interpret(["ping", "db"], Context(net=lambda: VIEW))
    assert program.reaction("INT") == "exit" and program.reaction("TERM") == "ignore"  # PID 1: SIGINT only
    assert program.repeat is not None
    lines = [w.data.decode() for w in program.repeat.writes(2.5)]
    assert lines == [f"64 bytes from 172.18.0.2: seq={n} ttl=64 time=0.018 ms\n" for n in range(3)]
    # its output redirected: nowhere (/dev/null), or to the other stream
    assert interpret(["sh", "-c", "ping db > /dev/null"], Context(net=lambda: VIEW)).repeat is None
    to_stderr = interpret(["sh", "-c", "ping db >&2"], Context(net=lambda: VIEW)).repeat
    assert to_stderr is not None and to_stderr.stream == STDERR


@pytest.mark.parametrize(("args", "said"), [
    (["web"], "ping: bad address 'web'\n"),
    (["-6", "db"], "ping: bad address 'db'\n"),
    ([], "Usage: ping [OPTIONS] HOST\n"),
    (["a", "b"], "Usage: ping [OPTIONS] HOST\n"),
    (["-c", "x", "db"], "ping: invalid number 'x'\n"),
    (["-k", "db"], "ping: unrecognized option: k\nUsage: ping [OPTIONS] HOST\n"),
    (["db", "-c"], "ping: option requires an argument: c\nUsage: ping [OPTIONS] HOST\n"),
])
def test_errors_as_busybox_prints_them(args: list[str], said: str) -> None:
    run = ping(args, VIEW)
    assert (_text(run.writes, STDERR), run.status, run.duration) == (said, 1, 0.0)


def test_names_come_from_etc_hosts_first_then_the_embedded_dns() -> None:
    view = NetView(hosts=(("127.0.0.1", "localhost"), ("10.0.0.9", "db")), names=(("DB", "172.18.0.2"),))
    assert view.resolve("db") == "10.0.0.9"
    assert view.resolve("Db") == "172.18.0.2"  # DNS compares names without case; /etc/hosts does not
    assert view.resolve("localhost") == "127.0.0.1"
    assert view.resolve("10.1.2.3") == "10.1.2.3"
    assert view.round_trip("127.0.0.1") == view.loopback
    assert view.round_trip("10.1.2.3") is None


# ---------------------------------------------------------------------------------------- a daemon's networks

@pytest.fixture
def net() -> tuple[NetworkStack, list[Member]]:
    """A daemon (tests/components/test_networks.py's: every runtime cost zero) with user networks ``app`` (``db``,
    alias ``db-alias``, and ``web``) and ``other`` (``x``), and ``plain`` on the default bridge, all running."""
    w = world()
    daemon = w.daemons["h"]
    stack = daemon.runtime.networks
    for name in ("app", "other"):
        drive(w, stack.create(name))
    members = []
    for name, network, aliases in (("db", "app", ["db-alias"]), ("web", "app", []), ("x", "other", []),
                                   ("plain", "bridge", [])):
        container = drive(w, start(daemon, name, network))
        members.append(Member(f"{name:0<12}{'0' * 52}", container, {network: aliases}))
    return stack, members


def _address(stack: NetworkStack, name: str, network: str) -> str:
    return str(stack.address(stack.containers[name], stack.networks[network]))


def test_a_user_network_resolves_its_containers_and_isolates_the_others(net: tuple[NetworkStack, list[Member]]) -> None:
    stack, members = net
    view = net_view(stack, "app", stack.containers["web"], "web-host", members)
    db = _address(stack, "db", "app")
    assert view.resolve("db") == db and view.resolve("db-alias") == db and view.resolve("db0000000000") == db
    assert view.resolve("x") is None  # on another network: not in this one's DNS
    assert view.round_trip(db) == pytest.approx(RTT)
    assert view.round_trip(_address(stack, "x", "other")) is None  # the networks are isolated
    assert view.round_trip(str(stack.networks["other"].gateway)) == pytest.approx(RTT)  # the host answers
    assert view.addresses == (_address(stack, "web", "app"),)
    assert view.hosts_file() == (
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\n"
        "ff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
        f"{view.addresses[0]}\tweb-host\n")


def test_the_default_bridge_has_no_embedded_dns(net: tuple[NetworkStack, list[Member]]) -> None:
    stack, members = net
    view = net_view(stack, "bridge", stack.containers["plain"], "plain", members, ["gw:host-gateway", "foo:1.2.3.4"])
    assert view.resolve("db") is None and view.names == ()
    assert view.round_trip(_address(stack, "db", "app")) is None
    assert "172.17.0.1\tgw\n1.2.3.4\tfoo\n" in (view.hosts_file() or "")  # host-gateway: docker0's address


def test_host_none_container_and_not_yet_created(net: tuple[NetworkStack, list[Member]]) -> None:
    stack, members = net
    host = net_view(stack, "host", None, "h", members)
    assert host.round_trip(_address(stack, "db", "app")) == pytest.approx(RTT) and host.hosts_file() is None
    none = net_view(stack, "none", None, "n", members)
    assert none.peers == () and none.addresses == () and none.round_trip("127.0.0.1") == none.loopback
    shared = net_view(stack, "container:db", None, "db-host", members)  # db's stack: db's networks
    assert shared.addresses == (_address(stack, "db", "app"),)
    fresh = net_view(stack, "app", None, "", members)  # not created yet: the address it would get now
    assert fresh.addresses == (str(stack.networks["app"].next_free()),) == ("172.18.0.4",)

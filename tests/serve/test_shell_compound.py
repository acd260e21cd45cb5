"""Compound commands of `sh -c` scripts (dsim/serve/shell_compound.py) and `test`/`[` (shell_test.py), with
expectations from POSIX sh's rules (https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html,
2.9.4; test: .../utilities/test.html). They were skipped without a word before, and `[` always succeeded."""

from __future__ import annotations

import math

import pytest

from dsim.serve.commands import interpret
from dsim.serve.shell_state import STDERR, STDOUT, Context
from tests.serve.test_shell_expansion import printed


@pytest.mark.parametrize(("script", "output"), [
    ("for i in 1 2 3; do echo n$i; done; echo after", "n1\nn2\nn3\nafter\n"),
    ("for i in a b\ndo\n  for j in 1 2; do echo $i$j; done\ndone", "a1\na2\nb1\nb2\n"),
    ("for i in; do echo never; done; echo $?", "0\n"),
    ("if [ -f /etc/passwd ]; then echo yes; fi", "yes\n"),
    ("if [ -d /nope ]; then echo a; elif test 2 -gt 1; then echo b; else echo c; fi", "b\n"),
    ("if false; then echo a; else echo c; fi && echo after", "c\nafter\n"),
    ("if false; then echo a; fi; echo $?", "0\n"),  # no branch taken: status 0
    ("i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done; echo done $i", "0\n1\n2\ndone 3\n"),
    ("n=3; until [ $n -eq 0 ]; do printf '%s ' $n; n=$((n-1)); done; echo", "3 2 1 \n"),
    ("echo hi > /tmp/f; [ -s /tmp/f ] && echo written; [ -e /tmp/g ] || echo absent", "written\nabsent\n"),
    ("test 1 -eq 2; echo $?; [ abc = abc ]; echo $?; [ -z '' ]; echo $?; [ ! -n '' ]; echo $?", "1\n0\n0\n0\n"),
])
def test_compound_commands_and_test(script: str, output: str) -> None:
    assert printed(script) == output


def test_a_loop_that_settles_repeats_until_the_process_is_stopped() -> None:
    """`while true; do echo tick; sleep 1; done`: the second turn is the first again (same time, same writes,
    same variables), so the loop runs forever: one tick at 0, then one a second from 1 s on."""
    program = interpret(["sh", "-c", "while true; do echo tick; sleep 1; done"], Context())
    assert program.duration == math.inf
    assert [(w.at, w.data) for w in program.output] == [(0.0, b"tick\n")]
    assert program.repeat is not None
    assert [(w.at, w.data) for w in program.repeat.writes(3.0)] == [(1.0, b"tick\n"), (2.0, b"tick\n"),
                                                                   (3.0, b"tick\n")]
    quiet = interpret(["sh", "-c", "while :; do sleep 5; done"], Context())  # the keep-alive idiom
    assert (quiet.duration, quiet.repeat) == (math.inf, None)


@pytest.mark.parametrize(("script", "said"), [
    ("for i in 1; do echo x", 'sh: syntax error: unexpected end of script (expecting "done")\n'),
    ("echo a; done", 'sh: syntax error: unexpected "done"\n'),
    ("case x in x) echo matched;; esac", 'sh: syntax error: "case" is not interpreted by dsim serve\n'),
    ("[ 1 -eq 1", None),
])
def test_what_is_not_a_whole_command_says_so(script: str, said: str | None) -> None:
    program = interpret(["sh", "-c", script], Context())
    errors = b"".join(w.data for w in program.output if w.stream == STDERR).decode()
    if said is None:  # test's own error: status 2
        assert (program.exit_code, errors) == (2, "[: missing ]\n")
    else:
        assert (program.exit_code, errors) == (2, said)
    assert not any(w.stream == STDOUT for w in program.output)

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


@pytest.mark.parametrize(("script", "output"), [
    # the first item whose pattern matches runs, and only it
    ("case abc in a*) echo A;; *) echo other;; esac", "A\n"),
    ("case foo.txt in *.md|*.txt) echo doc;; *) echo other;; esac", "doc\n"),
    ("case x in y) echo no;; esac; echo $?", "0\n"),  # nothing matched: 0
    ("case x in x) false;; esac; echo $?", "1\n"),  # the list's status
    ("false; case x in x) ;; esac; echo $?", "0\n"),  # an empty list: 0
    # the word is not split into fields; quoted pattern characters match themselves, unquoted ones are special
    ('x="a b"; case $x in "a b") echo one word;; esac', "one word\n"),
    ('p="a*"; case abc in $p) echo special;; esac; case abc in "$p") echo quoted;; *) echo other;; esac',
     "special\nother\n"),
    ("case 'a*' in a\\*) echo literal;; esac; case ab in a\\*) echo no;; a?) echo one char;; esac",
     "literal\none char\n"),
    ("case 5 in [0-9]) echo digit;; esac; case x in [!0-9]) echo other;; esac; case '[' in [) echo bracket;; esac",
     "digit\nother\nbracket\n"),
    ("case b in [[:upper:]]) echo up;; [[:lower:]]) echo low;; esac", "low\n"),
    # expansions in the word and the patterns, an optional "(", the last ";;" optional, lists after the ")"
    ("case $(echo hi) in (h*) echo sub;; esac; case x in $(echo y)) echo no;; x) echo $((1+1)); esac", "sub\n2\n"),
    ('case "$HOME" in\n  /root)\n    echo root\n    ;;\n  *)\n    echo other\n    ;;\nesac', "root\n"),
    ("case x in x) if true; then echo nested; fi;; esac; case x in x) echo piped | cat;; esac", "nested\npiped\n"),
    ("for i in 0 1 2; do case $i in 0|2) echo even $i;; *) echo odd $i;; esac; done", "even 0\nodd 1\neven 2\n"),
    # a compound command's list may be a pipeline (it was refused as "do" inside a pipeline)
    ("for i in 1 2; do echo $i | cat; done; if true; then echo a | cat; fi", "1\n2\na\n"),
])
def test_case(script: str, output: str) -> None:
    """POSIX 2.9.4.3 (case) and 2.14 (pattern matching notation)."""
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
    ("echo a;; echo b", 'sh: syntax error: unexpected ";;"\n'),  # ";;" ends a case item, nothing else
    ("case x in x) echo a", 'sh: syntax error: unexpected end of script (expecting ";;")\n'),
    ("case x in x echo a;; esac", 'sh: syntax error: unexpected "x echo a" (expecting ")")\n'),
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

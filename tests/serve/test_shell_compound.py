"""Compound commands of `sh -c` scripts (dsim/serve/shell_compound.py) and `test`/`[` (shell_test.py), with
expectations from POSIX sh's rules (https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html,
2.9.4; test: .../utilities/test.html). They were skipped without a word before, and `[` always succeeded."""

from __future__ import annotations

import math

import pytest

from dsim.serve.commands import interpret
from dsim.serve.shell_session import ShellSession
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
    # a newline after &&, || or | is a linebreak, not the end of the list (POSIX 2.10.2's grammar:
    # and_or AND_IF linebreak pipeline, pipe_sequence '|' linebreak command)
    ("false &&\necho never; echo after", "after\n"),
    ("true ||\n  # a comment\n\n  echo never; echo after", "after\n"),
    ("echo piped |\n  cat > /tmp/f; echo [$(cat /tmp/f)]", "[piped]\n"),
])
def test_a_line_may_end_in_an_operator(script: str, output: str) -> None:
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
    # inside a command substitution a pattern's ")" closes nothing
    ("arch=$(case $(echo x86_64) in x86_64) echo amd64;; aarch64) echo arm64;; esac); echo $arch", "amd64\n"),
    ("echo $(case y in (y) echo paren;; esac) after", "paren after\n"),
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
    # the end of the script inside a command: ash's "unexpected end of file", with the token its parser wanted
    # (raise_error_unexpected_syntax and tokname_array in https://git.busybox.net/busybox/tree/shell/ash.c)
    ("for i in 1; do echo x", 'sh: syntax error: unexpected end of file (expecting "done")\n'),
    ("for i in 1 2", 'sh: syntax error: unexpected end of file (expecting "do")\n'),
    ("while true", 'sh: syntax error: unexpected end of file (expecting "do")\n'),
    ("if true; then echo a", 'sh: syntax error: unexpected end of file (expecting "fi")\n'),  # not "elif"
    ("if true", 'sh: syntax error: unexpected end of file (expecting "then")\n'),
    ("{ echo a", 'sh: syntax error: unexpected end of file (expecting "}")\n'),
    ("f()", "sh: syntax error: unexpected end of file\n"),  # parse_command: any compound command would do
    ("case x in", 'sh: syntax error: unexpected end of file (expecting ")")\n'),  # a pattern's ")"
    ("case x in x) echo a;;", 'sh: syntax error: unexpected end of file (expecting ")")\n'),
    ("case x in x) echo a", 'sh: syntax error: unexpected end of file (expecting ";;")\n'),
    ("echo 'a", "sh: syntax error: unterminated quoted string\n"),  # readtoken1
    ('echo "a', "sh: syntax error: unterminated quoted string\n"),
    ("echo $(echo a", 'sh: syntax error: unexpected end of file (expecting ")")\n'),  # parsebackq
    ("echo a &&", "sh: syntax error: unexpected end of file\n"),  # and_or: a pipeline must follow
    ("echo a ||\n\n", "sh: syntax error: unexpected end of file\n"),
    ("echo a | # the next stage", "sh: syntax error: unexpected end of file\n"),
    ("echo a; done", 'sh: syntax error: unexpected "done"\n'),
    ("echo a;; echo b", 'sh: syntax error: unexpected ";;"\n'),  # ";;" ends a case item, nothing else
    ("case x in x echo a;; esac", 'sh: syntax error: unexpected word (expecting ")")\n'),
    ("[ 1 -eq 1", None),
    # a reserved word where another is due: the list before it ends there (ash's list() stops at a word of
    # tokendlist), then parse_command reads the wrong one: 'unexpected "done" (expecting "do")'
    ("for i in 1 2; done", 'sh: syntax error: unexpected "done" (expecting "do")\n'),
    ("for i in 1 2\ndone", 'sh: syntax error: unexpected "done" (expecting "do")\n'),
    ("while true; done", 'sh: syntax error: unexpected "done" (expecting "do")\n'),
    ("if true; done", 'sh: syntax error: unexpected "done" (expecting "then")\n'),
    ("if true; then echo a; done", 'sh: syntax error: unexpected "done" (expecting "fi")\n'),
    ("until false; do echo a; esac", 'sh: syntax error: unexpected "esac" (expecting "done")\n'),
    ("{ echo a; done", 'sh: syntax error: unexpected "done" (expecting "}")\n'),
    ("case x in x) echo a; fi", 'sh: syntax error: unexpected "fi" (expecting ";;")\n'),
    ("case x in x) fi", 'sh: syntax error: unexpected "fi" (expecting ";;")\n'),  # list(2): may be empty
    # a word is named by its kind (tokname: "word")
    ("for i in 1; echo a; done", 'sh: syntax error: unexpected word (expecting "do")\n'),
    ("case x foo", 'sh: syntax error: unexpected word (expecting "in")\n'),
    ("case x; in x) ;; esac", 'sh: syntax error: unexpected ";" (expecting "in")\n'),
    ("case x\nesac", 'sh: syntax error: unexpected "esac" (expecting "in")\n'),
    # list(0)'s first command may not be a closing word: an empty body is an error
    ("while true; do done", 'sh: syntax error: unexpected "done"\n'),
    ("if true; then fi", 'sh: syntax error: unexpected "fi"\n'),
    ("if true; then :; else fi", 'sh: syntax error: unexpected "fi"\n'),
    ("{ }", 'sh: syntax error: unexpected "}"\n'),
])
def test_what_is_not_a_whole_command_says_so(script: str, said: str | None) -> None:
    program = interpret(["sh", "-c", script], Context())
    errors = b"".join(w.data for w in program.output if w.stream == STDERR).decode()
    if said is None:  # test's own error: status 2
        assert (program.exit_code, errors) == (2, "[: missing ]\n")
    else:
        assert (program.exit_code, errors) == (2, said)
    assert not any(w.stream == STDOUT for w in program.output)


@pytest.mark.parametrize(("script", "output"), [
    # a function runs in the shell with its arguments as $1, $#, "$@" (each its own word), $*; $0 stays
    ('f() { echo "$0: $1 ($#)"; }; f a b; f', "sh: a (2)\nsh:  (0)\n"),
    ('f() { for a in "$@"; do echo "[$a]"; done; }; f "a b" c; f ""; f; echo end', "[a b]\n[c]\n[]\nend\n"),
    ('f() { echo "$*" $#; }; f "a  b" c; echo "${1-unset}"', "a  b c 2\nunset\n"),  # restored after the call
    # return N ends the function with N; without a return, the last command's status; a definition is status 0
    ('g() {\n  echo in\n  return 3\n  echo never\n}\ng; echo $?', "in\n3\n"),
    ('ok() { [ "$1" = yes ]; }; ok yes; echo $?; ok no; echo $?', "0\n1\n"),
    ('f() { for i in 1 2 3; do [ $i = 2 ] && return $i; echo $i; done; }; f; echo $?', "1\n2\n"),
    # shift drops parameters; more than there are: status 1, nothing dropped (busybox ash's shiftcmd)
    ('f() { shift; echo $*; shift 5; echo $? $*; }; f 1 2 3', "2 3\n1 2 3\n"),
    ("f() { while [ $# -gt 0 ]; do echo $1; shift; done; }; f a b c", "a\nb\nc\n"),
    # the body may be any compound command; a call's redirections take its output; $(f) runs it
    ("f() if true; then echo body; fi; f; { echo a; echo b; } && echo c", "body\na\nb\nc\n"),
    ("f() { echo out; echo err >&2; }; f > /tmp/o 2>/dev/null; cat /tmp/o; echo [$(f 2>/dev/null)]", "out\n[out]\n"),
    # `for NAME` without `in` loops over the parameters; return outside a function ends the script
    ("f() { for a; do echo $a; done; }; f x y", "x\ny\n"),
    ("echo before; return 4; echo never", "before\n"),
    ("f() { return; }; false; f; echo $?; g() { false; return; }; g; echo $?", "1\n1\n"),  # the last status
    # local: restored when the function returns; without a value it keeps the one it has (busybox ash mklocal);
    # the functions it calls see it (dynamic scope); an exported one stays exported
    ("x=0; f() { local x=1; echo $x; local x; echo $x; x=5; }; f; echo $x", "1\n1\n0\n"),
    ('f() { local a=$1; g; }; g() { echo g sees $a; }; f 1; echo "[$a]"', "g sees 1\n[]\n"),
    ("export E=out; f() { local E=in; printenv E; }; f; printenv E", "in\nout\n"),
])
def test_functions(script: str, output: str) -> None:
    """POSIX 2.9.5 (function definition), 2.5.1-2.5.2 (positional and special parameters), return, shift."""
    assert printed(script) == output


@pytest.mark.parametrize(("script", "output"), [
    ("for i in 1 2 3 4; do [ $i = 3 ] && break; echo $i; done; echo st=$?", "1\n2\nst=0\n"),
    ("for i in 1 2 3; do [ $i = 2 ] && continue; echo $i; done", "1\n3\n"),
    ("i=0; while true; do i=$((i+1)); case $i in 2) continue;; 4) break;; esac; echo $i; done; echo end $i",
     "1\n3\nend 4\n"),  # an endless loop ended by break, not run until stopped
    # N: that many enclosing loops; outside a loop nothing happens (busybox ash's breakcmd)
    ("for a in x y; do for b in 1 2; do [ $b = 2 ] && continue 2; echo $a$b; done; echo never; done", "x1\ny1\n"),
    ("for a in x y; do for b in 1 2; do break 5; done; echo never; done; echo out", "out\n"),
    ("break; continue; echo still", "still\n"),
])
def test_break_and_continue(script: str, output: str) -> None:
    assert printed(script) == output


def test_break_0_is_an_illegal_number_that_ends_the_script() -> None:
    """break and continue are special builtins in ash: their error (``number()``'s) ends the script, status 2."""
    program = interpret(["sh", "-c", "for i in 1; do break 0; done; echo never"], Context())
    assert program.exit_code == 2 and not any(w.stream == STDOUT for w in program.output)


def test_local_outside_a_function_ends_the_script() -> None:
    """``local`` is a special builtin in busybox ash (its builtin table): its error ends a script, status 2."""
    program = interpret(["sh", "-c", "local x=1; echo never"], Context())
    assert program.exit_code == 2 and not any(w.stream == STDOUT for w in program.output)


def test_sh_c_takes_its_name_and_parameters() -> None:
    """`sh -c SCRIPT NAME ARG...`: NAME is $0, the rest $1... (POSIX sh, -c); return's status ends the script."""
    program = interpret(["sh", "-c", 'echo "$0" "$2" $#; return 4', "name", "a", "b c"], Context())
    assert (program.exit_code, b"".join(w.data for w in program.output)) == (4, b"name b c 2\n")
    nested = interpret(["sh", "-c", "f() { echo parent; }; sh -c 'echo $0 $1; f' inner x"], Context())
    # a child shell has its own parameters and none of its parent's functions
    assert b"".join(w.data for w in nested.output) == b"inner x\n"


def test_an_interactive_shell_keeps_its_functions_from_line_to_line() -> None:
    session = ShellSession(["sh"], Context(), tty=False)
    session.feed(b"hi() { echo hi $1; }\n")
    assert b"".join(w.data for w in session.feed(b"hi there\n")) == b"hi there\n"


def test_a_function_recursing_without_end_dies_of_a_stack_overflow() -> None:
    """ash recurses on its C stack with no limit of its own: ``f() { f; }; f`` overflows it and the shell dies of
    SIGSEGV, status 139 (128 + 11), with nothing printed; it was a 500 with a Python traceback in the server. A
    child shell that dies so leaves its parent running, with 139 as its status; a bounded recursion runs."""
    program = interpret(["sh", "-c", "echo start; f() { f; }; f; echo never"], Context())
    assert (program.exit_code, b"".join(w.data for w in program.output)) == (139, b"start\n")
    nested = interpret(["sh", "-c", "sh -c 'f() { f; }; f'; echo child $?"], Context())
    assert (nested.exit_code, b"".join(w.data for w in nested.output)) == (0, b"child 139\n")
    assert printed("f() { [ $1 -lt 20 ] && f $(($1 + 1)) || echo depth $1; }; f 0") == "depth 20\n"


@pytest.mark.parametrize(("script", "output"), [
    # ash's parse_command reads "in", each pattern and "esac" with CHKNL: newlines before them are skipped
    ("case b\nin\na) echo A;;\n\nb) echo B;;\nesac", "B\n"),
    ('x="a b"; case "$x" # the word\n\n  in\n\n  "a b") echo yes\n\nesac', "yes\n"),
    ("if true; then case x\nin x) echo X;; esac; fi", "X\n"),
    ("case x in x) echo a;;\n\nesac; echo $?", "a\n0\n"),
])
def test_case_reads_in_its_patterns_and_esac_across_newlines(script: str, output: str) -> None:
    assert printed(script) == output

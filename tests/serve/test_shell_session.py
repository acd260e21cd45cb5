"""An interactive shell's command spread over several lines (dsim/serve/shell_session.py), by busybox ash's rules
(https://git.busybox.net/busybox/tree/shell/ash.c): its parser reads on while a command is not complete (a
compound command not closed, an open quote, a line ending in a backslash, ``&&``, ``||`` or ``|``), writing the
PS2 prompt ``> `` before each further line when interactive (on a terminal); the end of input inside a command is
a syntax error, status 2; Ctrl-C drops what was read."""

from __future__ import annotations

import pytest

from dsim.serve.shell_session import ShellSession
from dsim.serve.shell_state import STDERR, STDOUT, Context, Write


def text(writes: list[Write], stream: int | None = None) -> bytes:
    return b"".join(w.data for w in writes if stream is None or w.stream == stream)


def terminal() -> ShellSession:
    session = ShellSession(["sh"], Context(), tty=True)
    assert text(session.begin()) == b"/ # "
    return session


def test_a_loop_typed_over_three_lines_prompts_ps2_then_runs() -> None:
    session = terminal()
    assert text(session.feed(b"for i in 1 2\r")) == b"for i in 1 2\r\n> "  # the echo, then PS2
    assert text(session.feed(b"do echo n$i\r")) == b"do echo n$i\r\n> "
    assert text(session.feed(b"done\r")) == b"done\r\nn1\r\nn2\r\n/ # "  # run once whole, then PS1
    assert text(session.feed(b"echo $i\r")) == b"echo $i\r\n2\r\n/ # "  # the loop ran in this shell


@pytest.mark.parametrize(("typed", "output"), [
    (b"f() {\n  echo hi $1\n}\nf there\n", b"hi there\n"),
    (b"x=b\ncase $x in\n  a) echo A;;\n  b) echo B;;\nesac\n", b"B\n"),
    (b"if true\nthen\n  echo yes\nfi\n", b"yes\n"),
    (b"while false\ndo\n  :\ndone; echo $?\n", b"0\n"),
    (b'echo "a\nb"\n', b"a\nb\n"),  # the newline is part of the quoted word
    (b"echo 'a\nb'\n", b"a\nb\n"),
    (b"echo ab\\\ncd\n", b"abcd\n"),  # backslash-newline: the line goes on, both removed (POSIX 2.2.1)
    (b'echo "ab\\\ncd"\n', b"abcd\n"),  # in double quotes too (POSIX 2.2.3)
    (b"echo 'ab\\\ncd'\n", b"ab\\\ncd\n"),  # not in single quotes (2.2.2)
    (b"true &&\necho and\n", b"and\n"),
    (b"false ||\n\necho or\n", b"or\n"),
    (b"echo $(echo a\necho b)\n", b"a b\n"),
])
def test_a_command_not_complete_reads_on_without_prompts_when_piped(typed: bytes, output: bytes) -> None:
    session = ShellSession(["sh"], Context(), tty=False)
    lines = typed.split(b"\n")
    answered = [text(session.feed(line + b"\n")) for line in lines[:-2]]
    assert answered == [b""] * (len(lines) - 2)  # nothing runs, nothing is written (no PS2 without a tty)
    assert text(session.feed(lines[-2] + b"\n")) == output
    assert session.status == 0 and not session.ended


def test_a_real_syntax_error_fails_at_once() -> None:
    """``done`` with no loop, or ``done`` where ``do`` is due, is wrong however the input goes on."""
    session = ShellSession(["sh"], Context(), tty=False)
    assert text(session.feed(b"done\n"), STDERR) == b'sh: syntax error: unexpected "done"\n'
    assert session.status == 2
    assert text(session.feed(b"for i in 1 2\n")) == b""
    assert text(session.feed(b"done\n"), STDERR).startswith(b"sh: syntax error: ")
    assert text(session.feed(b"echo next\n"), STDOUT) == b"next\n"  # the bad lines are gone


def test_ctrl_c_drops_the_lines_read() -> None:
    session = terminal()
    session.feed(b"for i in 1 2\r")
    assert text(session.feed(b"\x03")) == b"^C\r\n/ # "  # PS1 again: a new command
    assert text(session.feed(b"echo ok\r")) == b"echo ok\r\nok\r\n/ # "


def test_ctrl_c_sets_the_status_to_130() -> None:
    """ash's raise_interrupt (https://git.busybox.net/busybox/tree/shell/ash.c): exitstatus = SIGINT + 128, on an
    empty line too ("bash: ^C even on empty command line sets $?")."""
    for typed in (b"", b"for i in 1 2\r", b"echo half"):
        session = terminal()
        session.feed(typed)
        session.feed(b"\x03")
        assert session.status == 130
        assert text(session.feed(b"echo $?\r")) == b"echo $?\r\n130\r\n/ # "


@pytest.mark.parametrize(("typed", "said"), [
    (b"for i in 1 2\ndo echo $i\n", b'sh: syntax error: unexpected end of file (expecting "done")\n'),
    (b"if true\n", b'sh: syntax error: unexpected end of file (expecting "then")\n'),
    (b'echo "a\n', b"sh: syntax error: unterminated quoted string\n"),
    (b"echo a |\n", b"sh: syntax error: unexpected end of file\n"),
    (b"f() {\necho", b'sh: syntax error: unexpected end of file (expecting "}")\n'),  # a last line with no newline
    (b"for i in 1", b'sh: syntax error: unexpected end of file (expecting "do")\n'),
])
def test_the_end_of_input_inside_a_command_is_a_syntax_error(typed: bytes, said: bytes) -> None:
    session = ShellSession(["sh"], Context(), tty=False)
    assert text(session.feed(typed)) == b""
    closing = session.close()
    assert (text(closing, STDERR), text(closing, STDOUT)) == (said, b"")
    assert session.ended and session.status == 2


def test_the_end_of_input_after_a_backslash_newline_runs_the_command() -> None:
    session = ShellSession(["sh"], Context(), tty=False)
    assert text(session.feed(b"echo a\\\n")) == b""
    assert text(session.close()) == b"a\n"
    assert session.ended and session.status == 0


def test_ctrl_d_at_ps2_is_the_syntax_error_and_the_shell_goes_on() -> None:
    """On a terminal, Ctrl-D on an empty line is the end of input for the parser (libbb/lineedit.c returns -1,
    writing no newline): the command ends there, a syntax error; the interactive shell then reads on."""
    session = terminal()
    assert text(session.feed(b"if true\r")) == b"if true\r\n> "
    assert text(session.feed(b"\x04")) == b'sh: syntax error: unexpected end of file (expecting "then")\r\n/ # '
    assert not session.ended and session.status == 2
    assert text(session.feed(b"echo $?\r")) == b"echo $?\r\n2\r\n/ # "

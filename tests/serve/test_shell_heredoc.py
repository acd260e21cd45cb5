"""Here-documents (``<<WORD``, ``<<-WORD``) in a container's shell, as busybox ash reads them (its readtoken1,
checkend and parseheredoc, https://git.busybox.net/busybox/tree/shell/ash.c) and POSIX specifies them
(https://pubs.opengroup.org/onlinepubs/9699919799/utilities/V3_chap02.html#tag_18_07_04): the body is the lines
after the command's line up to the delimiter's, the command's standard input; an unquoted delimiter expands the
body (parameters, ``$(...)``, backquotes, ``$((...))``; a backslash escapes only ``$``, a backquote, a backslash
and a newline), a quoted one keeps it as written; ``<<-`` strips leading tabs; the end of input ends a body whose
delimiter never comes, without a word (ash's CENDFILE ends the word). Each expectation is that rule applied by
hand."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsim.serve.commands import STDERR, STDOUT, Context, interpret
from dsim.serve.shell_session import ShellSession
from dsim.serve.shell_state import Write
from tests.serve.test_docker_cli import DOCKER, ServeProcess, docker, needs_cli


def ran(script: str) -> tuple[str, str, int]:
    """The script's standard output, standard error and exit status under ``sh -c``."""
    program = interpret(["sh", "-c", script], Context())
    text = {stream: b"".join(w.data for w in program.output if w.stream == stream).decode()
            for stream in (STDOUT, STDERR)}
    return text[STDOUT], text[STDERR], program.exit_code


def printed(script: str) -> str:
    return ran(script)[0]


def test_the_body_is_the_commands_standard_input_and_the_script_goes_on_after_it() -> None:
    assert ran("cat <<EOF\nhello $HOME\nEOF\necho after") == ("hello /root\nafter\n", "", 0)


@pytest.mark.parametrize("delimiter", ["'EOF'", '"EOF"', "\\EOF", 'E"O"F', "E'OF'"])
def test_a_quoted_delimiter_keeps_the_body_as_written(delimiter: str) -> None:
    body = "$HOME $(echo x) $((1 + 1)) `echo y` \\$ \\\\ 'a' \"b\"\n"
    assert printed(f"cat <<{delimiter}\n{body}EOF\necho after") == body + "after\n"


@pytest.mark.parametrize(("body", "expected"), [
    ("$N ${N} ${UNSET:-dflt} $# $?\n", "3 3 dflt 0 0\n"),
    ("$(echo sub) `echo back` $((N * 2))\n", "sub back 6\n"),
    ('"$N" \'$N\' "q"\n', "\"3\" '3' \"q\"\n"),  # quotes are plain characters in a body
    ("\\$N \\`x\\` \\\\ \\n \\\"\n", "$N `x` \\ \\n \\\"\n"),  # backslash escapes only $ ` \ (and a newline)
    ("one \\\ntwo\n", "one two\n"),  # backslash-newline: a line continuation
    ("$(printf 'a\\n\\n')|\n", "a|\n"),  # a substitution's trailing newlines go
    ("\n\nlast\n", "\n\nlast\n"),  # empty lines are kept
])
def test_an_unquoted_delimiter_expands_the_body(body: str, expected: str) -> None:
    assert printed(f"N=3; cat <<EOF\n{body}EOF") == expected


def test_a_quoted_body_keeps_a_backslash_newline_and_its_delimiter_ends_it() -> None:
    assert printed("cat <<'EOF'\nab\\\nEOF\necho x") == "ab\\\nx\n"
    # unquoted, the backslash-newline joins "EOF" to the line before it: not a delimiter line (ash's FIXME)
    assert printed("cat <<EOF\nab\\\nEOF\nEOF") == "abEOF\n"


def test_dash_strips_leading_tabs_from_the_body_and_the_delimiter() -> None:
    assert printed("cat <<-EOF\n\tone\n\t\ttwo\n  three\n\tEOF\necho after") == "one\ntwo\n  three\nafter\n"
    assert printed("cat <<EOF\n\tkept\n\tEOF\nEOF") == "\tkept\n\tEOF\n"  # without -: the tabbed line is body


def test_a_delimiter_line_must_equal_the_delimiter() -> None:
    assert printed("cat <<EOF\nEOF \n EOF\nEOFX\nEOF") == "EOF \n EOF\nEOFX\n"


def test_several_here_documents_are_read_in_order() -> None:
    assert printed("cat <<A; cat <<B\nfirst\nA\nsecond\nB\necho end") == "first\nsecond\nend\n"
    assert printed("cat <<A <<B\nfirst\nA\nsecond\nB") == "second\n"  # the last redirection of fd 0 wins


def test_the_end_of_input_ends_a_body_without_its_delimiter() -> None:
    assert ran("cat <<EOF\nhi $HOME") == ("hi /root", "", 0)  # ash and dash: no newline of their own, no warning
    assert ran("cat <<EOF\nhi\n") == ("hi\n", "", 0)
    assert ran("cat <<EOF") == ("", "", 0)


def test_a_here_document_operator_needs_a_word() -> None:
    out, err, status = ran("cat <<\necho x")
    assert (out, err, status) == ("", "sh: syntax error: unexpected newline\n", 2)


@pytest.mark.parametrize("script", ["echo '<<EOF'", 'echo "<<EOF"', "echo \\<<EOF", "echo a # <<EOF"])
def test_a_quoted_or_commented_operator_is_no_here_document(script: str) -> None:
    out, _, status = ran(script + "\necho next")
    assert status == 0 and out.endswith("next\n") and "EOF" not in out.replace("<<EOF", "")


def test_a_redirected_output_file_holds_the_body() -> None:
    program = interpret(["sh", "-c", "cat <<EOF > /f\nx $HOME\nEOF\ncat /f; cat <<E >> /f\ny\nE\ncat /f"], Context())
    assert b"".join(w.data for w in program.output) == b"x /root\nx /root\ny\n"
    assert dict(program.files)["/f"] == b"x /root\ny\n"


def test_read_takes_a_line_and_splits_it_into_the_names() -> None:
    assert printed('read a b <<EOF\n  one two  three  \nEOF\necho "[$a][$b]"') == "[one][two  three]\n"
    assert printed('read a b c <<EOF\nonly\nEOF\necho "[$a][$b][$c]"') == "[only][][]\n"
    assert printed('read -r a <<EOF\nx\\\\y\nEOF\necho "$a"') == "x\\y\n"  # unquoted body: \\ is one \
    assert printed("read a <<'EOF'\nx\\y\nEOF\necho \"$a\"") == "xy\n"  # read without -r drops the \
    assert printed("read REPLY <<EOF\nEOF\necho $?") == "1\n"  # nothing to read: status 1


def test_a_while_read_loop_reads_the_body_line_by_line() -> None:
    # the same line twice: the second turn repeats the first, yet it reads on (its input moved)
    script = 'while read line; do echo "<$line>"; done <<EOF\na\na\nb c\nEOF\necho "end $?"'
    assert printed(script) == "<a>\n<a>\n<b c>\nend 0\n"


def test_here_documents_on_compound_commands() -> None:
    assert printed("if true; then cat; fi <<EOF\nfrom if\nEOF") == "from if\n"
    assert printed("{ read a; read b; echo $b$a; } <<EOF\n1\n2\nEOF") == "21\n"
    assert printed("for i in 1 2; do read x; echo $i$x; done <<EOF\na\nb\nEOF") == "1a\n2b\n"
    assert printed("case x in x) cat;; esac <<EOF\nfrom case\nEOF") == "from case\n"


def test_here_documents_in_and_to_functions() -> None:
    assert printed("f() { cat; }\nf <<EOF\nto f\nEOF") == "to f\n"
    assert printed('f() {\n\tcat <<-EOF\n\t\targ $1\n\tEOF\n}\nf one; f two') == "arg one\narg two\n"
    assert printed("g() { read a; echo got $a; } <<EOF\nbody\nEOF\ng; g") == "got body\ngot body\n"


def test_here_documents_in_command_substitutions_pipelines_and_shells() -> None:
    assert printed('x="$(cat <<EOF\ninner $HOME\nEOF\n)"; echo "[$x]"') == "[inner /root]\n"
    # an assignment's value is not split into fields (POSIX 2.9.1): the unquoted substitution keeps its lines
    assert printed('x=$(cat <<EOF\na  b\nc\nEOF\n); y=$x; echo "[$y]" $x') == "[a  b\nc] a b c\n"
    assert printed("cat <<EOF | cat\npiped\nEOF") == "piped\n"
    assert printed("sh <<EOF\necho from \\$0 $HOME\nEOF") == "from sh /root\n"


def test_an_arithmetic_error_in_a_body_ends_the_script() -> None:
    out, err, status = ran("cat <<EOF\n$((1 / 0))\nEOF\necho never")
    assert (out, status) == ("", 2) and err == "sh: arithmetic: division by zero\n"


def test_a_dollar_or_backquote_read_from_a_body_stays_itself_in_double_quotes() -> None:
    """POSIX 2.2.3: between double quotes a backslash escapes ``$`` and a backquote too (shlex knew only ``"``
    and the backslash, so ``"\\$HOME"`` printed its backslash)."""
    assert printed("read -r x <<'E'\n$a `b`\nE\necho \"<$x>\" $x") == "<$a `b`> $a `b`\n"
    assert printed('echo "\\$HOME \\` \\\\ \\x" \'\\$\'') == "$HOME ` \\ \\x \\$\n"


def test_a_backslash_ending_the_script_is_itself() -> None:
    """ash's readtoken1: a backslash before the end of input is a quoted backslash (CBACK, c == PEOF)."""
    assert ran("echo a\\") == ("a\\\n", "", 0)
    assert ran("echo a \\") == ("a \\\n", "", 0)


# ---------------------------------------------------------------------------------------------- sessions


def text(writes: list[Write], stream: int | None = None) -> bytes:
    return b"".join(w.data for w in writes if stream is None or w.stream == stream)


def test_a_session_prompts_for_the_body_until_the_delimiter() -> None:
    session = ShellSession(["sh"], Context(), tty=True)
    session.begin()
    assert text(session.feed(b"cat <<EOF\r")) == b"cat <<EOF\r\n> "
    assert text(session.feed(b"hi $HOME\r")) == b"hi $HOME\r\n> "
    assert text(session.feed(b"EOF\r")) == b"EOF\r\nhi /root\r\n/ # "


def test_a_piped_session_reads_a_quoted_body_as_written() -> None:
    session = ShellSession(["sh"], Context(), tty=False)
    for line in (b"cat <<'E'; echo done\n", b"don't \\\n"):
        assert text(session.feed(line)) == b""  # no prompts without a terminal
    assert text(session.feed(b"E\n")) == b"don't \\\ndone\n"
    assert text(session.feed(b"while read l; do echo +$l; done <<EOF\n1\n2\nEOF\n")) == b"+1\n+2\n"


def test_the_end_of_input_ends_a_sessions_body() -> None:
    session = ShellSession(["sh"], Context(), tty=False)
    assert text(session.feed(b"cat <<EOF\nunfinished\n")) == b""
    assert text(session.close()) == b"unfinished\n"
    assert session.ended and session.status == 0


# ---------------------------------------------------------------------------------------------- the docker CLI


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path, speed=50.0)
    yield proc
    proc.stop()


@needs_cli
def test_the_docker_cli_runs_a_here_document(fresh: ServeProcess) -> None:
    script = "cat <<EOF\nhello $HOME\nEOF\necho after"
    result = docker(fresh, "run", "--rm", "alpine", "sh", "-c", script)
    assert (result.returncode, result.stdout) == (0, "hello /root\nafter\n"), result.stderr
    piped = docker_input(fresh, "while read x; do echo \"<$x>\"; done <<'E'\n$a\nb\nE\nexit 3\n")
    assert (piped.returncode, piped.stdout) == (3, "<$a>\n<b>\n"), piped.stderr


def docker_input(server: ServeProcess, typed: str) -> subprocess.CompletedProcess[str]:
    """``docker run -i --rm alpine sh`` fed ``typed`` on its standard input."""
    assert DOCKER is not None
    env = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config")}
    return subprocess.run([DOCKER, "run", "-i", "--rm", "alpine", "sh"], input=typed, capture_output=True, text=True,
                          timeout=60, env=env)

"""commands.py: a container's process from its command line, by the POSIX rules its docstring lists.

Every expectation is the rule applied by hand: ``echo`` writes its words and a newline and exits 0; a
script's time is the sum of its sleeps; ``exit N`` ends it with N; a pipeline lasts as long as its longest
stage; PID 1 ignores the signals it has no handler for.
"""

from __future__ import annotations

import math

import pytest

from dsim.serve.commands import STDERR, STDOUT, Context, Write, interpret, signal_name, valid_signal
from dsim.serve.shell_session import ShellSession


def out(argv: list[str], **kwargs: object) -> list[tuple[float, int, bytes]]:
    return [(w.at, w.stream, w.data) for w in interpret(argv, **kwargs).output]  # type: ignore[arg-type]


def test_echo_prints_and_exits_zero_at_once() -> None:
    program = interpret(["echo", "hi", "there"])
    assert (program.duration, program.exit_code) == (0.0, 0)
    assert out(["echo", "hi", "there"]) == [(0.0, STDOUT, b"hi there\n")]
    assert out(["echo", "-n", "x"]) == [(0.0, STDOUT, b"x")]


def test_printf_reuses_its_format_while_arguments_remain() -> None:
    # POSIX: "%s=%d\n" with a 1 b 2 is applied twice
    assert out(["printf", "%s=%d\\n", "a", "1", "b", "2"]) == [(0.0, STDOUT, b"a=1\nb=2\n")]


@pytest.mark.parametrize(("argv", "code"), [
    (["true"], 0), (["false"], 1), (["sh", "-c", "exit 3"], 3), (["sh", "-c", "exit 300"], 300 % 256),
    (["/bin/sh", "-c", "false || exit 4"], 4), (["bash", "-c", "true && false"], 1),
    (["sh", "-c", "false; true"], 0), (["sh", "-c", "exit 2; echo never"], 2),
])
def test_exit_codes(argv: list[str], code: int) -> None:
    assert interpret(argv).exit_code == code


def test_sleep_takes_its_time_and_output_is_stamped_by_it() -> None:
    # echo at 0, sleep 2 (2 s), echo to stderr at 2, sleep 1m (60 s): 62 s in all, exit 0
    program = interpret(["sh", "-c", "echo a; sleep 2; echo b >&2; sleep 1m"])
    assert program.duration == 62.0 and program.exit_code == 0
    assert out(["sh", "-c", "echo a; sleep 2; echo b >&2; sleep 1m"]) == [(0.0, STDOUT, b"a\n"),
                                                                          (2.0, STDERR, b"b\n")]
    assert interpret(["sleep", "1", "2.5"]).duration == 3.5
    assert math.isinf(interpret(["sleep", "infinity"]).duration)


def test_redirections_and_pipelines() -> None:
    # 2>&1 then >/dev/null: stderr goes where stdout went (the terminal), stdout to the null device
    assert out(["sh", "-c", "echo x 2>&1 >/dev/null; echo y 1>&2"]) == [(0.0, STDERR, b"y\n")]
    # a pipeline: cat reads echo's output; its longest stage (sleep 3) sets its length
    program = interpret(["sh", "-c", "echo hi | cat; sleep 3 | true"])
    assert out(["sh", "-c", "echo hi | cat"]) == [(0.0, STDOUT, b"hi\n")]
    assert program.duration == 3.0


def test_cat_without_input_and_a_shell_without_a_command_end_at_once() -> None:
    assert (interpret(["cat"]).duration, interpret(["cat"]).exit_code) == (0.0, 0)
    assert (interpret(["/bin/sh"], default=True).duration, interpret(["/bin/sh"]).exit_code) == (0.0, 0)
    assert interpret(["sh"], stdin_open=True).reads_stdin


def test_unknown_commands_follow_the_documented_default() -> None:
    given = interpret(["python3", "app.py"])
    assert (given.duration, given.exit_code, given.known) == (0.0, 0, False)
    service = interpret(["python3"], default=True)  # the image's own program: its service
    assert math.isinf(service.duration)


def test_entrypoint_wrappers_run_their_command_and_servers_run_until_stopped() -> None:
    assert out(["/docker-entrypoint.sh", "echo", "hi"]) == [(0.0, STDOUT, b"hi\n")]
    nginx = interpret(["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"], default=True)
    assert math.isinf(nginx.duration)


def test_container_values() -> None:
    context = Context(hostname="abc123", env=("A=1",), workdir="/app")
    assert out(["hostname"], context=context) == [(0.0, STDOUT, b"abc123\n")]
    assert out(["pwd"], context=context) == [(0.0, STDOUT, b"/app\n")]
    assert b"A=1\n" in out(["env"], context=context)[0][2]


def test_signals_pid_1_ignores_what_it_has_no_handler_for() -> None:
    sleep = interpret(["sleep", "100"])
    assert sleep.reaction("TERM") == "ignore" and not sleep.handles_term
    assert sleep.reaction("KILL") == "exit"
    nginx = interpret(["nginx", "-g", "daemon off;"])
    assert nginx.reaction("SIGHUP") == "keep"  # reload its configuration (nginx.org/en/docs/control.html)
    assert nginx.reaction("15") == "exit" and nginx.reaction("QUIT") == "exit"
    assert signal_name("") == "KILL" and signal_name("sighup") == "HUP" and signal_name("9") == "KILL"
    assert valid_signal("SIGUSR1") and valid_signal("term") and valid_signal("15") and valid_signal("RTMIN+3")
    assert not valid_signal("FOO") and not valid_signal("0") and not valid_signal("65")


def test_interactive_shell_session_over_a_tty() -> None:
    session = ShellSession(["sh"], Context(), tty=True)
    assert session.begin() == [Write(0.0, STDOUT, b"/ # ")]
    typed = session.feed(b"echo hi\r")
    text = b"".join(w.data for w in typed)
    assert text == b"echo hi\r\nhi\r\n/ # "  # the echo of the typed line, the output, the prompt
    session.feed(b"sleep 2; exit 5\r")
    assert session.ended and session.status == 5
    assert session.exit_at == 2.0  # it exits once its last line's sleep is over


def test_piped_shell_reads_lines_until_the_end_of_input() -> None:
    session = ShellSession(["sh"], Context(), tty=False)
    assert session.begin() == []
    assert b"".join(w.data for w in session.feed(b"echo a\necho b\n")) == b"a\nb\n"
    session.close()
    assert session.ended and session.status == 0


def test_a_server_asked_for_its_version_or_a_config_test_exits_at_once() -> None:
    for argv in (["nginx", "-v"], ["nginx", "-t"], ["redis-server", "--version"], ["postgres", "--help"]):
        assert interpret(argv).duration == 0.0, argv
    assert math.isinf(interpret(["nginx", "-g", "daemon off;"]).duration)


def test_the_postgres_entrypoint_wants_a_password_or_trust() -> None:
    """docker-library/postgres: an uninitialised database without POSTGRES_PASSWORD (and without
    POSTGRES_HOST_AUTH_METHOD=trust) is refused, exit 1, before the server starts; the server itself runs on."""
    argv = ["docker-entrypoint.sh", "postgres"]
    refused = interpret(argv, Context(), default=True)
    assert (refused.duration, refused.exit_code, refused.output[0].stream) == (0.0, 1, STDERR)
    assert refused.output[0].data.startswith(b"Error: Database is uninitialized and superuser password")
    for env in (("POSTGRES_PASSWORD=secret",), ("POSTGRES_HOST_AUTH_METHOD=trust",)):
        assert math.isinf(interpret(argv, Context(env=env), default=True).duration), env
    assert math.isinf(interpret(["postgres"], Context()).duration)  # no entrypoint, no check


def test_cat_of_a_file_whose_contents_are_unknown_ends() -> None:
    """An image's own file (its contents are not modelled): cat prints nothing and ends, also as the image's
    default command (it is not taken for a service that runs until stopped)."""
    program = interpret(["cat", "/etc/os-release"], default=True)
    assert (program.duration, program.exit_code, program.output) == (0.0, 0, ())

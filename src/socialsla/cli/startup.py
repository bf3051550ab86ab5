"""What every live command does before it starts: read the settings, prepare the topics, check its port.

Each reads the `SOCIALSLA_*` settings once, validates them (all problems listed
together) and only then touches Kafka.
"""

from __future__ import annotations

import os
import socket
import sys

from socialsla.stream.settings import HELP, Settings, SettingsError, from_env

#: How long the traffic tools wait: a person at a terminal wants to hear soon that nothing answers.
TOOL_BROKER_WAIT_S = 3.0


async def topics_ready(settings: Settings, command: str, wait_seconds: float) -> bool:
    """Create or check the topics (kafka.ensure_topics); on failure print one line and say False."""
    from socialsla.stream.kafka import TopicsError, ensure_topics

    try:
        await ensure_topics(settings, wait_seconds)
    except TopicsError as exc:
        print(f"socialsla {command}: {exc}", file=sys.stderr)
        return False
    return True


def web_port_taken(settings: Settings, command: str) -> bool:
    """Whether /metrics cannot bind its address; if so, say which and what to do, in one line.

    Checked before anything starts: a worker would crash deep inside Faust, and a
    demo would show the numbers of whichever process holds the port.
    """
    return port_taken(settings.web_host, settings.web_port, command, "/metrics", "SOCIALSLA_WEB_PORT")


def port_taken(host: str, port: int, command: str, what: str, variable: str) -> bool:
    """Whether `what` cannot bind host:port; if so, say which and what to do, in one line."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            print(
                f"socialsla {command}: cannot serve {what} on {host}:{port}: "
                f"{exc.strerror} (another worker or demo running?); stop it or set {variable}",
                file=sys.stderr,
            )
            return True
    return False


def read_settings() -> Settings:
    try:
        return from_env(os.environ)
    except SettingsError as exc:
        print("socialsla: bad settings:\n  " + str(exc).replace("\n", "\n  "), file=sys.stderr)
        raise SystemExit(1) from None


def settings_epilog() -> str:
    lines = ["settings (environment variables, read once at start):"]
    for variable, value in Settings().describe():
        name = variable.removeprefix("SOCIALSLA_").lower()
        # A help text that says its own default (rules_file) is not followed by "[default: unset]".
        shown = "" if not value and "default" in HELP[name] else f" [default: {value or 'unset'}]"
        lines.append(f"  {variable:<32} {HELP[name]}{shown}")
    return "\n".join(lines)

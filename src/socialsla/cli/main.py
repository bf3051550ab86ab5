"""The `socialsla` command line: every command, and its exit codes.

Commands: `report`, `rules check` and `import twcs` (offline.py), `worker`
(worker.py), `ingest` (ingest.py), `produce` and `generate` (send.py), `receiver`
(paging.py) and `demo` (demo.py).

Exit codes: 0 done, 1 the input, a rule file or the settings could not be used
(the message says why), 2 the command line itself was wrong (argparse's
convention). Each command lives in a module of its own and adds itself to the
parser (`add_..._command`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence
from typing import NoReturn

from socialsla.cli.demo import add_demo_command
from socialsla.cli.files import InputFileError
from socialsla.cli.ingest import add_ingest_command
from socialsla.cli.offline import add_offline_commands
from socialsla.cli.paging import add_paging_command
from socialsla.cli.send import add_send_commands
from socialsla.cli.worker import add_worker_command
from socialsla.core.rulebook import RuleError


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake costs one line and a pointer to --help, not the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    """The argument parser, with every subcommand."""
    top = _Parser(
        prog="socialsla",
        description="First-reply time and response rate of social customer care, "
        "against badge-style rules (Facebook's 'very responsive': at least 90% answered, "
        "<= 15 min average first reply, over 7 days).",
    )
    top.add_argument("--version", action="version", version=f"socialsla {_version()}")
    subcommands = top.add_subparsers(dest="command", metavar="COMMAND")

    for add in (
        add_offline_commands,
        add_worker_command,
        add_ingest_command,
        add_send_commands,
        add_paging_command,
        add_demo_command,
    ):
        add(subcommands)
    return top


def _version() -> str:
    try:
        return importlib.metadata.version("socialsla")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    top = parser()
    args = top.parse_args(argv)
    if args.command is None:  # a bare `socialsla`: what it does and which commands it has
        top.print_help()
        return 0
    try:
        code: int = args.run(args)
    except (RuleError, InputFileError) as exc:
        print(f"socialsla {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())

"""`socialsla receiver`: take Alertmanager's pages and log each one (serve/receiver.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _receiver(args: argparse.Namespace) -> int:
    from socialsla.serve import receiver

    try:
        receiver.receive(args.host, args.port, args.log)
    except OSError as exc:
        print(f"socialsla receiver: cannot serve on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    print("socialsla receiver: stopped", file=sys.stderr)
    return 0


def add_paging_command(commands: Any) -> None:
    """Add `receiver` to the top-level parser."""
    hooks = commands.add_parser(
        "receiver",
        help="take Alertmanager's webhooks and log each page, one line per alert",
        description="A page receiver for Alertmanager (webhook_configs url http://HOST:PORT/hooks/NAME): "
        "writes each alert as one line with its receiver, status, severity, alert, account/channel, "
        "summary, description and runbook link. deploy/run stack routes every page here.",
    )
    hooks.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    hooks.add_argument("--port", type=int, default=9095, help="port to listen on (default 9095)")
    hooks.add_argument("--log", type=Path, help="append pages to this file (default: standard output)")
    hooks.set_defaults(run=_receiver)

"""The broker options shared by the commands that connect to one (``fleet``,
``central run``): the URL and how to log in, read into a checked
:class:`~station_agent.uplink.broker.Broker`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station_agent.uplink.broker import Broker


def add_broker_arguments(p: argparse.ArgumentParser, user_help: str = "broker user name") -> None:
    """``--broker URL`` (required), ``--cafile``, ``--username``, ``--password-file``,
    ``--certfile``, ``--keyfile``."""
    p.add_argument("--broker", required=True, metavar="URL",
                   help="mqtt://host[:port] or mqtts://host[:port]")
    p.add_argument("--cafile", metavar="FILE", help="CA of the broker's certificate (mqtts)")
    p.add_argument("--username", metavar="USER", help=user_help)
    p.add_argument("--password-file", metavar="FILE",
                   help="file holding the password (must be readable only by its owner)")
    p.add_argument("--certfile", metavar="FILE",
                   help="client certificate (PEM) for brokers that require one (mqtts)")
    p.add_argument("--keyfile", metavar="FILE",
                   help="private key of --certfile (PEM, readable only by its owner)")


def broker_of(args: argparse.Namespace) -> Broker:
    """The checked broker settings of ``args`` (:class:`BadInput` naming the fix)."""
    from station_agent.uplink.broker import parse_broker

    return parse_broker(args.broker, cafile=args.cafile, username=args.username,
                        password_file=args.password_file, certfile=args.certfile,
                        keyfile=args.keyfile, what="--broker")

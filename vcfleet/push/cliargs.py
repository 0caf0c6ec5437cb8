"""Command-line options ``vcfleet push`` and ``vcfleet backup`` share (SSH, deadlines), and
the provisioning options ``vcfleet push`` and ``vcfleet serve`` share."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from inventory import Endpoint, InputError, Inventory
from vcfleet.commands.common import positive_int, positive_seconds
from vcfleet.i18n import _

if TYPE_CHECKING:
    from vcfleet.provisioning.site import ProvisioningSite
    from vcfleet.push.driver import DriverOptions


def add_ssh_options(parser: argparse.ArgumentParser) -> None:
    """Driver, concurrency, host keys and deadlines."""
    from vcfleet.push.driver import Deadlines  # light: no SSH library

    d = Deadlines()
    parser.add_argument("--concurrency", type=positive_int, default=32, metavar="N",
                        help=_("endpoints worked on at once (default: 32)"))
    parser.add_argument("--driver", choices=("asyncssh", "netmiko"), default="asyncssh",
                        help=_("SSH client for Cisco endpoints: asyncssh (default, fastest) or "
                               "netmiko's cisco_tp in a thread pool; Poly always uses asyncssh"))
    parser.add_argument("--known-hosts", metavar="FILE", type=Path,
                        help=_("trusted SSH host keys (default: known_hosts in the user's "
                               "data directory, see docs/push.md)"))
    parser.add_argument("--accept-new-host-keys", action="store_true",
                        help=_("trust and record the key of an endpoint not yet in the "
                               "known_hosts file (a changed key is still refused)"))
    parser.add_argument("--connect-timeout", type=positive_seconds, default=d.connect_s,
                        metavar="S",
                        help=_("TCP, SSH handshake and login deadline (default: {seconds})").format(
                            seconds=f"{d.connect_s:g}"))
    parser.add_argument("--command-timeout", type=positive_seconds, default=d.command_s,
                        metavar="S",
                        help=_("deadline per command and reply (default: {seconds})").format(
                            seconds=f"{d.command_s:g}"))
    parser.add_argument("--endpoint-timeout", type=positive_seconds, default=d.endpoint_s,
                        metavar="S",
                        help=_("deadline for all the work on one endpoint, a rollback excepted "
                               "(default: {seconds})").format(seconds=f"{d.endpoint_s:g}"))


def add_provisioning_options(parser: argparse.ArgumentParser) -> None:
    """Where provisioning files live and where fetches are audited (docs/push.md)."""
    parser.add_argument("--provisioning-store", type=Path, metavar="DIR",
                        help=_("folder of the devices' provisioning files, shared by push and "
                               "serve (default: provisioning in the user's state directory)"))
    parser.add_argument("--provisioning-audit-log", type=Path, metavar="FILE",
                        help=_("append one JSON line per provisioning request here (default: "
                               "provisioning-audit.jsonl in the user's data directory)"))


def provisioning_site(args: argparse.Namespace, inventory: Inventory,
                      endpoints: Sequence[Endpoint] | None = None) -> ProvisioningSite | None:
    """The inventory's provisioning site, if it has one and (given ``endpoints``) one of them
    is a provisioned device; InputError if its certificate, key or secret cannot be loaded."""
    from vcfleet.provisioning.site import site_of
    from vcfleet.provisioning.store import default_store
    from vcfleet.push.dialects import DIALECTS

    if endpoints is not None and not any(
            e.vendor in DIALECTS and DIALECTS[e.vendor].provisioned for e in endpoints):
        return None
    return site_of(inventory, getattr(args, "provisioning_store", None) or default_store())


def provisioning_audit_log(args: argparse.Namespace) -> Path:
    """The provisioning audit log: ``--provisioning-audit-log``, else the default."""
    from vcfleet.provisioning.server import default_audit_log

    return getattr(args, "provisioning_audit_log", None) or default_audit_log()


def driver_options(args: argparse.Namespace, inventory: Inventory,
                   endpoints: Sequence[Endpoint] | None = None) -> DriverOptions:
    """DriverOptions from the parsed options; InputError if the known_hosts file is unreadable
    or the provisioning section (needed when ``endpoints`` hold provisioned devices) unusable."""
    from vcfleet.push.driver import Deadlines, DriverOptions
    from vcfleet.push.hostkeys import KnownHosts, default_known_hosts

    path = args.known_hosts or default_known_hosts()
    try:
        known = KnownHosts(path, accept_new=args.accept_new_host_keys)
    except OSError as exc:
        raise InputError(str(exc)) from None
    deadlines = Deadlines(connect_s=args.connect_timeout, command_s=args.command_timeout,
                          endpoint_s=args.endpoint_timeout)
    return DriverOptions(known, inventory.base_dir(), deadlines, kind=args.driver,
                         provisioning=provisioning_site(args, inventory, endpoints))

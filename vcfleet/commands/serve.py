"""``vcfleet serve``: the Prometheus exporter (docs/exporter.md).

Sweeps the inventory every ``--interval`` seconds and serves ``/metrics`` from the
latest report, ``/probe?target=ID&module=M`` for one endpoint now, ``/-/healthy``,
``/-/ready`` and ``POST /-/reload`` (SIGHUP reloads too).  Runs until SIGINT/SIGTERM.
Keeps a live session to each codec whose profile runs the device check
(``--device-sessions``): its state is on ``/metrics`` within seconds, and the sweeps'
device check reads it instead of logging in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from inventory import Endpoint, InputError, Inventory
from vcfleet.commands.common import add_select, positive_int, url_host
from vcfleet.i18n import N_, _

if TYPE_CHECKING:
    from vcfleet.exporter import Exporter
    from vcfleet.provisioning.server import ProvisioningServer

HELP = N_("Prometheus exporter: scheduled sweeps on /metrics, one endpoint on /probe")
DEFAULT_LISTEN = "127.0.0.1:9348"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet serve``."""
    parser.add_argument("--listen", metavar="HOST:PORT", default=DEFAULT_LISTEN,
                        help=_("address to serve on (default: {listen})").format(
                            listen=DEFAULT_LISTEN))
    parser.add_argument("--interval", type=_seconds, default=60.0, metavar="SECONDS",
                        help=_("time between the starts of two sweeps (default: 60; 0: no "
                               "scheduled sweeps, only /probe)"))
    parser.add_argument("--checks", metavar="LIST", default="",
                        help=_("checks the scheduled sweeps run: net, media, all, or kinds, "
                               "comma separated (default: each room's profile)"))
    add_select(parser)
    parser.add_argument("--shard", metavar="K/N", default="",
                        help=_("sweep only endpoints whose hashmod(id, N) == K (as Prometheus "
                               "relabelling computes it), to split a fleet over N exporters"))
    parser.add_argument("--concurrency", type=positive_int, metavar="N",
                        help=_("endpoints checked at once within a sweep (default: the sweep "
                               "engine's, as `vcfleet sweep`)"))
    parser.add_argument("--media-workers", type=_count_or_zero, metavar="N",
                        help=_("worker processes for WebRTC checks (default: one per core; "
                               "0: in the exporter's process)"))
    parser.add_argument("--history", type=Path, metavar="FILE",
                        help=_("record each sweep in this SQLite history (default: the "
                               "user's history, as `vcfleet sweep`)"))
    parser.add_argument("--no-history", action="store_true",
                        help=_("do not record sweeps in the history"))
    parser.add_argument("--known-hosts", metavar="FILE", type=Path,
                        help=_("trusted SSH host keys for the device check and the live device "
                               "sessions, the file push uses (default: known_hosts in the user's "
                               "data directory, see docs/push.md)"))
    parser.add_argument("--device-sessions", type=_count_or_zero, default=1024, metavar="N",
                        help=_("keep at most N live sessions to the codecs whose profile runs "
                               "the device check, which the sweeps' device check then reads "
                               "(default: 1024; 0: none, each sweep logs in)"))
    parser.add_argument("--device-poll", type=_poll_seconds, default=5.0, metavar="SECONDS",
                        help=_("time between two reads of a Poly codec's state in its live "
                               "session (Poly pushes no registration changes; default: 5)"))
    parser.add_argument("--meetings", metavar="PATH",
                        help=_("run each meeting's scheduled checks (docs/meetings.md; default: "
                               "$VCFLEET_MEETINGS if set)"))
    from vcfleet.push.cliargs import add_provisioning_options

    add_provisioning_options(parser)  # the inventory's provisioning: section, if any, is served


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("not a number of seconds: {text}").format(text=repr(text))) from None
    if value != 0 and not 1.0 <= value <= 86400.0:
        raise argparse.ArgumentTypeError(
            _("must be 0 or between 1 and 86400 seconds: {text}").format(text=repr(text)))
    return value


def _poll_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("not a number of seconds: {text}").format(text=repr(text))) from None
    if not 1.0 <= value <= 3600.0:
        raise argparse.ArgumentTypeError(
            _("must be between 1 and 3600 seconds: {text}").format(text=repr(text)))
    return value


def _count_or_zero(text: str) -> int:
    return 0 if text.strip() == "0" else positive_int(text)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as (host, port); InputError if malformed."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InputError(_("--listen {text}: expected HOST:PORT, e.g. {listen}").format(
            text=repr(text), listen=DEFAULT_LISTEN))
    return host, int(port_text)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from vcfleet.exporter import Exporter, ExporterConfig, Scope, Shard
    from vcfleet.sweep import SweepOptions, parse_checks, raise_open_file_limit

    host, port = parse_listen(args.listen)
    scope = Scope(select=args.select or "", shard=Shard.parse(args.shard) if args.shard else None)
    options = SweepOptions(checks=parse_checks(args.checks), source="serve",
                           selector=args.select or "", media_workers=args.media_workers)
    if args.concurrency:
        options = replace(options, concurrency=args.concurrency)
    options = replace(options, settings=_device_settings(args.known_hosts, options.checks))
    from probes.device_live import LiveSettings

    live = (LiveSettings(max_sessions=args.device_sessions, poll_s=args.device_poll)
            if args.device_sessions else None)
    from vcfleet.meetings import default_meetings_path

    meetings = Path(args.meetings) if args.meetings else default_meetings_path()
    config = ExporterConfig(inventory_path=Path(args.inventory) if args.inventory else None,
                            host=host, port=port, interval_s=args.interval, options=options,
                            scope=scope, handle_signals=True, meetings_path=meetings,
                            live=live)
    # rooms in flight each hold a few sockets; /probe requests come on top
    raise_open_file_limit(options.concurrency * 6 + 1024)
    history = None
    if not args.no_history:
        import sqlite3

        from vcfleet.history import History

        try:
            history = History(args.history)
        except (OSError, sqlite3.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise InputError(_("{path}: cannot open the history: {problem}").format(
                path=args.history or "history", problem=reason)) from None
    try:
        exporter = Exporter(config, on_report=history.record if history else None,
                            history=history)
        if not exporter.state.endpoints:
            raise InputError(_("no endpoint of {path} is in scope (check --select and "
                               "--shard)").format(path=exporter.state.inventory.path))
        asyncio.run(_serve(exporter, _provisioning(args, exporter)))
    finally:
        if history is not None:
            history.close()
    return 0


def _device_settings(known_hosts: Path | None, checks: frozenset[str] | None
                     ) -> dict[str, object]:
    """The device check's settings with the trusted host keys (``--known-hosts``, else
    push's default file), read once and shared by every sweep and live session."""
    if checks is not None and "device" not in checks:
        return {}
    from probes.device import Settings
    from vcfleet.push.hostkeys import KnownHosts, default_known_hosts

    try:
        known = KnownHosts(known_hosts or default_known_hosts())
    except OSError as exc:
        raise InputError(str(exc)) from None
    return {"device": Settings(known_hosts=known)}


def _provisioning(args: argparse.Namespace, exporter: Exporter) -> ProvisioningServer | None:
    """The provisioning server of the inventory's ``provisioning:`` section (docs/push.md)."""
    from vcfleet.provisioning.server import ProvisioningServer
    from vcfleet.push.cliargs import provisioning_audit_log, provisioning_site

    inventory = exporter.state.inventory
    site = provisioning_site(args, inventory)
    if site is None:
        return None
    server = ProvisioningServer(site, _provisioned(inventory), provisioning_audit_log(args))
    exporter.reload_hooks.append(lambda new: _follow_reload(server, inventory, new))
    return server


def _provisioned(inventory: Inventory) -> list[Endpoint]:
    """The inventory's rooms that fetch their settings from the provisioning server."""
    from vcfleet.push.dialects import DIALECTS

    return [e for e in inventory if e.vendor in DIALECTS and DIALECTS[e.vendor].provisioned]


def _follow_reload(server: ProvisioningServer, first: Inventory, new: Inventory) -> None:
    """After an inventory reload the server knows the new inventory's provisioned rooms;
    its address, certificate and secret stay those of the start (a restart changes them)."""
    import logging

    before = set(server.devices)
    server.update(_provisioned(new))
    now = set(server.devices)
    log = logging.getLogger("vcfleet.provisioning")
    log.info("provisioning: %d rooms after the reload (%d added, %d removed)", len(now),
             len(now - before), len(before - now))
    if new.provisioning != first.provisioning:
        log.warning("provisioning: the inventory's provisioning: section changed; its "
                    "address, certificate and secret take effect when vcfleet serve restarts")


async def _start_provisioning(provisioning: ProvisioningServer) -> None:
    site = provisioning.site
    try:
        await provisioning.start()
    except OSError as exc:
        raise InputError(_("{where}: cannot listen: {problem}").format(
            where=f"provisioning.listen {site.host}:{site.port}",
            problem=exc.strerror or exc)) from None
    print(_("provisioning: serving {url} from {folder}").format(url=site.url,
                                                                folder=site.store.root),
          file=sys.stderr, flush=True)


async def _serve(exporter: Exporter, provisioning: ProvisioningServer | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await exporter.start()
    scope = len(exporter.state.endpoints)
    every = (_("sweep every {seconds} s").format(seconds=f"{exporter.config.interval_s:g}")
             if exporter.config.interval_s else _("no scheduled sweeps, /probe only"))
    where = f"{url_host(exporter.config.host)}:{exporter.port}"
    if exporter.live is not None and exporter.live.fleet.sessions:
        every += _("; live sessions to {n} codecs").format(n=len(exporter.live.fleet.sessions))
    if exporter.meetings is not None:
        from vcfleet.meetings.schedule import describe_next

        every += f"; {describe_next(exporter.meetings)}"
    print(_("serving {n} endpoints on {url} ({every})").format(
        n=scope, url=f"http://{where}/metrics", every=every), file=sys.stderr, flush=True)
    try:
        if provisioning is not None:
            await _start_provisioning(provisioning)
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        if provisioning is not None:
            await provisioning.stop()
        await exporter.stop()

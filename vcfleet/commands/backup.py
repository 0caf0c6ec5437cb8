"""``vcfleet backup -o DIR``: running configurations, raw and normalised, for a git folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vcfleet.commands.common import add_select, inventory_of, selected
from vcfleet.i18n import N_, _

HELP = N_("save each endpoint's running configuration (DIR/<id>.cfg) and settings (DIR/<id>.json)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet backup`` (docs/push.md)."""
    from vcfleet.push.cliargs import add_ssh_options

    add_select(parser)
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                        help=_("folder for the backups (created if missing; may be a git repo)"))
    add_ssh_options(parser)
    parser.add_argument("--provisioning-store", type=Path, metavar="DIR",
                        help=_("folder of the provisioning files, where each Yealink room's "
                               "file is written as it runs (default: as vcfleet push and serve)"))


def run(args: argparse.Namespace) -> int:
    """Back up the selected endpoints; exit 1 if any could not be backed up."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from vcfleet.push.backup import BackupResult, run_backup
    from vcfleet.push.cliargs import driver_options
    from vcfleet.push.progress import Progress
    from vcfleet.push.report import print_backup_report

    inv = inventory_of(args)
    endpoints = selected(args, inv)
    options = driver_options(args, inv, endpoints)
    prepare_folder(args.output)
    progress = Progress(len(endpoints), _("backup"))

    def on_result(result: BackupResult) -> None:
        progress.add(result.status)

    pool = ThreadPoolExecutor(args.concurrency) if args.driver == "netmiko" else None
    options.pool = pool
    try:
        results = asyncio.run(run_backup(endpoints, options, args.output, args.concurrency,
                                         on_result))
    finally:
        progress.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    print_backup_report(results, sys.stdout)
    bad = [r for r in results if r.status in ("unreachable", "failed")]
    return 1 if bad else 0


def prepare_folder(folder: Path) -> None:
    """Create the backup folder and check it is writable, before any endpoint is touched."""
    import tempfile

    from inventory import InputError
    from vcfleet.outfile import cannot_write

    if folder.exists() and not folder.is_dir():
        raise InputError(_("{path}: not a directory").format(path=folder))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".vcfleet-probe-"):
            pass
    except OSError as exc:
        raise cannot_write(folder, exc) from None

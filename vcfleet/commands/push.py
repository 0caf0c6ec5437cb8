"""``vcfleet push TEMPLATE``: push settings safely (backup, diff, apply, verify, roll back)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vcfleet.commands.common import add_select, inventory_of, selected
from vcfleet.i18n import N_, _, number

if TYPE_CHECKING:
    from inventory import Endpoint
    from vcfleet.push.driver import DriverOptions
    from vcfleet.push.engine import OnResult, PushOptions, PushReport
    from vcfleet.push.template import Template

HELP = N_("push a settings template: back up, diff, apply, verify, roll back on failure")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet push`` (docs/push.md)."""
    from vcfleet.commands.common import positive_int
    from vcfleet.push.cliargs import add_provisioning_options, add_ssh_options

    parser.add_argument("template", type=Path, help=_("template file (YAML, see docs/push.md)"))
    add_select(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help=_("back up and show each endpoint's diff; change nothing"))
    parser.add_argument("--canary", type=positive_int, metavar="N",
                        help=_("push to N endpoints first and stop if any of them fails"))
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help=_("table (diffs, problems, summary) or one JSON document"))
    parser.add_argument("--audit-log", type=Path, metavar="FILE",
                        help=_("append one JSON line per endpoint here (default: push-audit.jsonl "
                               "in the user's data directory)"))
    add_ssh_options(parser)
    add_provisioning_options(parser)


def run(args: argparse.Namespace) -> int:
    """Check the template against the selected endpoints, then push."""
    import asyncio

    from vcfleet.push.audit import AuditLog, default_audit_log
    from vcfleet.push.cliargs import driver_options
    from vcfleet.push.engine import PushOptions, plan
    from vcfleet.push.progress import Progress
    from vcfleet.push.report import print_push_report, push_json
    from vcfleet.push.template import load_template

    inv = inventory_of(args)
    endpoints = selected(args, inv)
    template = load_template(args.template)
    options = driver_options(args, inv, endpoints)
    plan(template, endpoints, options)  # every template problem, before any device is touched
    push = PushOptions(dry_run=args.dry_run, canary=args.canary or 0,
                       concurrency=args.concurrency)
    audit_path = args.audit_log or default_audit_log()
    try:
        audit = AuditLog(audit_path, template, dry_run=args.dry_run)
    except OSError as exc:
        from inventory import InputError

        raise InputError(_("{path}: cannot open the audit log: {problem}").format(
            path=audit_path, problem=exc.strerror or exc)) from None
    progress = Progress(len(endpoints), _("dry run") if args.dry_run else _("push"))

    def on_result(result: object) -> None:
        from vcfleet.push.engine import EndpointResult

        assert isinstance(result, EndpointResult)
        audit.record(result)
        progress.add(str(result.outcome))

    try:
        # every provisioned device of the inventory may fetch meanwhile (a reboot), not
        # only the selected ones
        report = asyncio.run(_push(template, endpoints, options, push, on_result,
                                   list(inv.endpoints), args))
    finally:
        progress.close()
        audit.close()
    if args.format == "json":
        sys.stdout.write(push_json(report, dry_run=args.dry_run))
    else:
        print_push_report(report, sys.stdout, dry_run=args.dry_run)
    print(_("push: {n} endpoints in {seconds} s; audit log {path}").format(
        n=len(endpoints), seconds=number(report.duration_s, ".1f"), path=audit.path),
        file=sys.stderr)
    if audit.error is not None:
        print(_("{path}: cannot write the audit log: {problem} ({lost} of {n} lines "
                "lost)").format(path=audit.path, problem=audit.error, lost=audit.lost,
                                n=len(endpoints)), file=sys.stderr)
        return 1
    return 0 if report.ok else 1


async def _push(template: Template, endpoints: list[Endpoint], options: DriverOptions,
                push: PushOptions, on_result: OnResult, devices: list[Endpoint],
                args: argparse.Namespace) -> PushReport:
    """The push, with the provisioning server running throughout when it changes any
    provisioned device (docs/push.md, Provisioning)."""
    from vcfleet.push.dialects import DIALECTS
    from vcfleet.push.driver import supported
    from vcfleet.push.engine import run_push

    site = options.provisioning
    if site is None or push.dry_run or not any(
            DIALECTS[e.vendor].provisioned and supported(e, options) is None
            for e in endpoints if e.vendor in DIALECTS):
        return await run_push(template, endpoints, options, push, on_result)
    from vcfleet.provisioning.server import serving_during
    from vcfleet.push.cliargs import provisioning_audit_log

    served = [e for e in devices if e.vendor in DIALECTS and DIALECTS[e.vendor].provisioned]
    async with serving_during(site, served, provisioning_audit_log(args)) as how:
        print(how, file=sys.stderr, flush=True)
        return await run_push(template, endpoints, options, push, on_result)

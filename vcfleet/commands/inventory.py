"""``vcfleet inventory``: validate, list, show, import and export the fleet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from inventory import Endpoint, InputError, Inventory, Problem
from inventory.errors import translated
from vcfleet.checks import load_fleet
from vcfleet.commands.common import add_force, add_select, inventory_of, selected
from vcfleet.i18n import N_, _
from vcfleet.render.csv import render_csv
from vcfleet.render.json import render_json
from vcfleet.render.table import render_table

HELP = N_("validate, list, show, import and export the inventory")

LIST_COLUMNS = (N_("id"), N_("name"), N_("tier"), N_("district"), N_("vendor"), N_("model"),
                N_("address"))
"""The columns of ``inventory list``: the CSV's keys, and (translated) the table's headings."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of ``vcfleet inventory``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True,
                                parser_class=type(parser))
    sub.add_parser = _with_inventory_option(sub.add_parser)  # type: ignore[method-assign]
    p = sub.add_parser("validate", help=_("report every problem as PATH:LINE:COL: message"))
    p.add_argument("path", nargs="?", help=_("inventory file (default: --inventory)"))
    p.add_argument("--strict", action="store_true",
                   help=_("credential references that cannot be resolved here are errors "
                          "(exit 2), not warnings"))
    p.set_defaults(action_run=_validate)
    p = sub.add_parser("list", help=_("list endpoints"))
    add_select(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.set_defaults(action_run=_list)
    p = sub.add_parser("show", help=_("show one endpoint with every inherited value resolved"))
    p.add_argument("id")
    p.set_defaults(action_run=_show)
    p = sub.add_parser("import", help=_("read a CSV/XLSX sheet and write a YAML inventory "
                                        "(docs/spreadsheets.md)"))
    p.add_argument("source", metavar="SRC", help=_("spreadsheet: .csv (UTF-8) or .xlsx"))
    p.add_argument("-o", "--output", metavar="OUT.yaml", required=True,
                   help=_("YAML inventory to write"))
    add_force(p)
    p.add_argument("--base", metavar="BASE.yaml",
                   help=_("take tiers, profiles, defaults and groups from this inventory"))
    p.set_defaults(action_run=_import)
    p = sub.add_parser("export", help=_("write the resolved endpoints to CSV or XLSX"))
    add_select(p)
    p.add_argument("-o", "--output", metavar="OUT.csv|OUT.xlsx", required=True,
                   help=_("spreadsheet to write; the suffix picks the format"))
    add_force(p)
    p.set_defaults(action_run=_export)


def _with_inventory_option(add_parser: Any) -> Any:
    """Each action also takes ``--inventory PATH`` after its name."""

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = add_parser(name, **kwargs)
        p.add_argument("--inventory", metavar="PATH", default=argparse.SUPPRESS,
                       help=_("inventory file (default: $VCFLEET_INVENTORY, else the demo fleet)"))
        return p

    return add


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    return int(args.action_run(args))


def _validate(args: argparse.Namespace) -> int:
    inv = load_fleet(args.path or args.inventory)
    unresolved = _unresolved(inv)
    if unresolved and args.strict:
        raise InputError(unresolved)
    for problem in sorted(unresolved):
        print(f"{problem.path}:{problem.line}:{problem.col}: "
              + _("warning: {message}").format(message=translated(problem.message, _)),
              file=sys.stderr)
    note = _(" ({n} warning(s))").format(n=len(unresolved)) if unresolved else ""
    print(_("{path}: ok, {n} endpoints").format(path=inv.path, n=len(inv)) + note,
          file=sys.stderr)
    return 0


def _unresolved(inv: Inventory) -> list[Problem]:
    """Credential references of the file that cannot be resolved on this machine."""
    from inventory.secrets import unresolved_references
    from inventory.yamlpos import decode, load

    if inv.path is None:
        return []
    name = str(inv.path)
    doc = load(decode(inv.path.read_bytes(), name), name)
    return unresolved_references(doc, name, inv.base_dir())


def _row(e: Endpoint) -> list[object]:
    return [e.id, e.name, e.tier, e.district or "", e.vendor, e.model, e.address]


def _list(args: argparse.Namespace) -> int:
    inv = inventory_of(args)
    endpoints = selected(args, inv, allow_empty=True)
    if args.format == "json":
        sys.stdout.write(render_json([e.model_dump(mode="json") for e in endpoints]))
    elif args.format == "csv":
        sys.stdout.write(render_csv(LIST_COLUMNS, [_row(e) for e in endpoints]))
    else:
        sys.stdout.write(render_table([_(c) for c in LIST_COLUMNS], [_row(e) for e in endpoints]))
        print(_("{shown} of {n} endpoints").format(shown=len(endpoints), n=len(inv)),
              file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    inv = inventory_of(args)
    if args.id not in inv:
        raise InputError(_("no endpoint with id {id} in {path}").format(id=repr(args.id),
                                                                         path=inv.path))
    e = inv.get(args.id)
    data = e.model_dump(mode="json")
    data["parents"] = [a.id for a in inv.ancestors(e)]
    data["checks"] = inv.profile(e).model_dump(mode="json")
    data["webrtc_url"] = e.webrtc_url()
    sys.stdout.write(render_json(data))
    return 0


def _import(args: argparse.Namespace) -> int:
    from inventory.spreadsheet import import_file
    from vcfleet.outfile import check_output, output_file

    base = Path(args.base) if args.base else None
    check_output(Path(args.output), force=args.force)
    with output_file(Path(args.output), force=args.force) as tmp:
        inv = import_file(Path(args.source), tmp, base)
    print(_("{path}: wrote {n} endpoints from {source}").format(
        path=args.output, n=len(inv), source=args.source), file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from inventory.spreadsheet import export_file
    from vcfleet.outfile import check_output, output_file

    check_output(Path(args.output), force=args.force)
    inv = inventory_of(args)
    endpoints = selected(args, inv)
    with output_file(Path(args.output), force=args.force) as tmp:
        export_file(endpoints, tmp)
    print(_("{path}: wrote {shown} of {n} endpoints").format(
        path=args.output, shown=len(endpoints), n=len(inv)), file=sys.stderr)
    return 0

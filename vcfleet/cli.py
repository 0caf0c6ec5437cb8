"""The ``vcfleet`` command line.

Each command lives in ``vcfleet/commands/<name>.py`` with ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; heavy imports happen inside
``run`` so that ``vcfleet --help`` stays fast.  Exit codes: 0 success, 1 ran but
something is not ready or failed, 2 bad input or usage (one clear line per
problem on stderr, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from inventory import InputError
from vcfleet import __version__
from vcfleet.i18n import LANGUAGES, N_, _, ngettext, resolve_language, set_language
from vcfleet.safe_text import safe_line

COMMANDS = (
    "inventory", "simulate", "sweep", "meeting", "serve", "responder", "push", "backup", "tui",
    "demo",
)

EXIT_OK, EXIT_NOT_READY, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, _("{prog}: error: {message} (see '{prog} --help')").format(
            prog=self.prog, message=message) + "\n")


ARGPARSE_WORDS = (
    N_("usage: "), N_("positional arguments"), N_("options"),
    N_("show this help message and exit"),
    N_("the following arguments are required: %s"), N_("unrecognized arguments: %s"),
    N_("argument %(argument_name)s: %(message)s"), N_("expected one argument"),
    N_("expected at most one argument"), N_("expected at least one argument"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("not allowed with argument %s"), N_("one of the arguments %s is required"),
    N_("ignored explicit argument %r"), N_("unexpected option string: %s"),
)
"""argparse's own words that an operator reads (its message ids, as this Python's
argparse spells them; tests/test_cli_language.py checks that each is in its source)."""


def speak_argparse() -> None:
    """Let argparse speak the current language: it calls the module-level names ``_``
    and ``ngettext`` (``from gettext import ...``) each time it writes a word, so binding
    them to ours translates its words with our catalog (``ARGPARSE_WORDS``; the rest,
    such as the messages of programming errors, stay English).  The one touch of a
    private name of argparse; tests/test_cli_language.py checks its shape."""
    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]


def _command_modules() -> list[tuple[str, ModuleType]]:
    found = []
    for name in COMMANDS:
        try:
            found.append((name, importlib.import_module(f"vcfleet.commands.{name}")))
        except ModuleNotFoundError as exc:
            if exc.name != f"vcfleet.commands.{name}":
                raise
    return found


def _common_options(default: object) -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--inventory", metavar="PATH", default=default,
                        help=_("inventory file (default: $VCFLEET_INVENTORY, else the demo fleet)"))
    common.add_argument("-v", "--verbose", action="count",
                        default=0 if default is None else default,
                        help=_("log more (-vv for debug)"))
    common.add_argument("--debug", action="store_true",
                        default=False if default is None else default,
                        help=_("show tracebacks of internal errors"))
    common.add_argument("--lang", metavar="LANG", choices=LANGUAGES, default=default,
                        help=_("language of the output for people: vi or en (default: "
                               "$VCFLEET_LANG, else the locale, else en)"))
    return common


def build_parser() -> Parser:
    """The full argument parser (also used by docs and tests)."""
    # The options every command takes are accepted before the command name and after it.
    # After it they default to SUPPRESS, so that they never overwrite a value given before.
    common = _common_options(argparse.SUPPRESS)
    parser = Parser(prog="vcfleet",
                    description=_("Fleet manager for video-conferencing endpoints."),
                    parents=[_common_options(None)])
    parser.add_argument("--version", action="version", version=f"vcfleet {__version__}",
                        help=_("show program's version number and exit"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, module in _command_modules():
        p = sub.add_parser(name, help=_(module.HELP), description=_(module.HELP),
                           parents=[common])
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def attach_dash_values(argv: Sequence[str]) -> list[str]:
    """``--opt -1/2`` as ``--opt=-1/2``, so that the command's own check judges the value.

    argparse takes a word starting with ``-`` for an option unless it is a plain
    negative number, and would answer ``--shard -1/2`` with "expected one argument".
    """
    out: list[str] = []
    for word in argv:
        prev = out[-1] if out else ""
        if (re.match(r"-\d", word) and prev.startswith("--") and "=" not in prev
                and prev != "--"):
            out[-1] = f"{prev}={word}"
        else:
            out.append(word)
    return out


def lang_option(argv: Sequence[str]) -> str | None:
    """The value of the last ``--lang`` in ``argv`` (before or after the command), read
    before parsing so that the language is set before anything is written."""
    found = None
    for i, word in enumerate(argv):
        if word == "--":
            break
        if word == "--lang" and i + 1 < len(argv):
            found = argv[i + 1]
        elif word.startswith("--lang="):
            found = word.partition("=")[2]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vcfleet`` console script."""
    words = attach_dash_values(sys.argv[1:] if argv is None else argv)
    try:
        option = lang_option(words)
        set_language(resolve_language(option if option in LANGUAGES else None))
    except ValueError as exc:
        print(_("vcfleet: error: {problem}").format(problem=safe_line(exc)), file=sys.stderr)
        return EXIT_USAGE
    speak_argparse()
    parser = build_parser()
    args = parser.parse_args(words)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except InputError as exc:
        for line in exc.lines(_):  # the loaders' English messages, said in the language
            print(safe_line(line), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(_("vcfleet: interrupted"), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if args.debug:
            raise
        print(_("vcfleet: internal error: {problem} (run with --debug for a traceback)").format(
            problem=f"{type(exc).__name__}: {safe_line(exc)}"), file=sys.stderr)
        return EXIT_NOT_READY


if __name__ == "__main__":
    raise SystemExit(main())

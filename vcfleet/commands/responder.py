"""``vcfleet responder``: the site-side WebRTC echo responder (docs/webrtc.md).

Runs at a site (a small PC or VM beside the codec) so that a sweep can measure
real media to that site.  Prints one line starting ``ready`` once it listens;
stops cleanly on SIGINT or SIGTERM, closing every session.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from inventory import InputError
from vcfleet.commands.common import positive_int
from vcfleet.i18n import N_, _

HELP = N_("serve the site-side WebRTC echo responder (WHIP-style, bearer token)")
TOKEN_ENV = "VCFLEET_RESPONDER_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet responder``."""
    parser.add_argument("--listen", default="0.0.0.0:8089", metavar="HOST:PORT",
                        help=_("HTTP signalling address (default 0.0.0.0:8089); media uses "
                               "HOST too unless it is a wildcard"))
    parser.add_argument("--path", default="/whip", type=url_path,
                        help=_("responder URL path (default /whip)"))
    parser.add_argument("--token-file", metavar="FILE",
                        help=_("file holding the bearer token (default: ${variable})").format(
                            variable=TOKEN_ENV))
    parser.add_argument("--no-auth", action="store_true",
                        help=_("accept clients without a token (closed labs only)"))
    parser.add_argument("--max-sessions", type=positive_int, default=8, metavar="N",
                        help=_("concurrent sessions before 503 (default 8)"))
    parser.add_argument("--media-address", action="append", default=[], metavar="ADDR",
                        help=_("address for ICE candidates (repeatable; default: the --listen "
                               "host, or every interface)"))
    parser.add_argument("--ice-server", action="append", default=[], metavar="URL",
                        help=_("STUN/TURN URL (repeatable; default none)"))


def url_path(text: str) -> str:
    """argparse type: an absolute URL path such as ``/whip``."""
    if not text.startswith("/") or any(c in text for c in "?# ") or not text.isprintable():
        raise argparse.ArgumentTypeError(
            _("expected a URL path starting with '/', got {text}").format(text=repr(text)))
    return text


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as (host, port); InputError when malformed."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(_("--listen: expected HOST:PORT, got {text}").format(text=repr(text)))
    return host.strip("[]"), int(port)


def read_token(args: argparse.Namespace) -> str | None:
    """The bearer token from --token-file or the environment; None only with --no-auth."""
    if args.no_auth:
        return None
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(_("{path}: cannot read token file: {problem}").format(
                path=args.token_file, problem=exc.strerror or exc)) from None
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token and args.token_file:
        raise InputError(_("{path}: empty token file").format(path=args.token_file))
    if not token:
        raise InputError(_("no token: give --token-file FILE or set ${variable} (or --no-auth "
                           "for a closed lab)").format(variable=TOKEN_ENV))
    return token


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    import asyncio

    host, port = parse_listen(args.listen)
    token = read_token(args)
    if args.max_sessions < 1:
        raise InputError(_("--max-sessions: expected 1 or more, got {value}").format(
            value=args.max_sessions))
    try:
        asyncio.run(_serve(args, host, port, token))
    except OSError as exc:
        raise InputError(f"--listen {args.listen}: {exc.strerror or exc}") from exc
    return 0


async def _serve(args: argparse.Namespace, host: str, port: int, token: str | None) -> None:
    import asyncio
    import signal

    from probes.webrtc_responder import Responder

    responder = Responder(token, path=args.path, max_sessions=args.max_sessions,
                          media_addresses=args.media_address or None,
                          ice_servers=args.ice_server)
    await responder.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready {responder.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await responder.stop()
        print("stopped", file=sys.stderr, flush=True)

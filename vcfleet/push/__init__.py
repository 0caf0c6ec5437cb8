"""Configuration push and backup: templates, per-vendor drivers, the push engine, audit log.

- ``template``: load and check templates (neutral keys, Jinja2 values, vendor lines);
- ``dialects``: what each vendor's SSH API text means;
- ``driver``: the small ``Driver`` interface, its errors and options;
  ``asyncssh_driver`` and ``netmiko_driver`` implement it;
- ``engine``: backup, diff, apply, verify, rollback, canary;
- ``backup``: raw and normalised running configurations for a git-tracked folder;
- ``audit``: one JSON line per endpoint per push.
"""

from vcfleet.push.driver import Deadlines, Driver, DriverOptions, PushError, Unreachable
from vcfleet.push.engine import EndpointResult, Outcome, PushOptions, PushReport, run_push
from vcfleet.push.hostkeys import KnownHosts
from vcfleet.push.template import Template, load_template

__all__ = [
    "Deadlines",
    "Driver",
    "DriverOptions",
    "EndpointResult",
    "KnownHosts",
    "Outcome",
    "PushError",
    "PushOptions",
    "PushReport",
    "Template",
    "Unreachable",
    "load_template",
    "run_push",
]

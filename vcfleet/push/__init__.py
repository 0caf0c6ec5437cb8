"""Configuration push and backup: templates, per-vendor drivers, the push engine, audit log.

- ``template``: load and check templates (neutral keys, Jinja2 values, vendor lines);
- ``dialects``: what each vendor's SSH API text means;
- ``driver``: the small ``Driver`` interface, its errors and options;
  ``asyncssh_driver`` and ``netmiko_driver`` implement it;
- ``engine``: backup, diff, apply, verify, rollback, canary;
- ``backup``: raw and normalised running configurations for a git-tracked folder;
- ``audit``: one JSON line per endpoint per push.
"""

# Submodules are imported where used: `vcfleet --help` must not pay for asyncssh.

"""Auto-provisioning: how vcfleet manages devices that fetch their configuration file.

Yealink rooms have no SSH management API: the device fetches a ``.cfg`` file over
HTTPS from a provisioning server, and a SIP ``NOTIFY`` with ``Event: check-sync``
makes it fetch now.  This package is that server's side, independent of the push
engine (which reaches it through ``vcfleet.push.yealink_driver``):

- ``cfgfile``: the ``.cfg`` text format (pure functions);
- ``store``: one file per endpoint in a folder, written atomically, shared by
  ``vcfleet push`` and ``vcfleet serve``;
- ``site``: the inventory's ``provisioning:`` section made usable (TLS context,
  per-device credentials, the store);
- ``server``: the HTTPS server that hands each device its own file;
- ``notify``: the ``NOTIFY check-sync`` sender.
"""

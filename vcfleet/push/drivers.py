"""Which driver talks to an endpoint: the one place that knows the driver implementations.

The interface they implement lives in ``driver.py``, which imports none of them,
so a driver module and the interface never import each other.
"""

from __future__ import annotations

from inventory import Endpoint
from vcfleet.push.dialects import DIALECTS
from vcfleet.push.driver import Driver, DriverOptions


def make_driver(endpoint: Endpoint, options: DriverOptions) -> Driver:
    """A not yet connected driver for a supported endpoint."""
    # Imported here: each driver pulls in its SSH library, which a dry run never needs.
    if DIALECTS[endpoint.vendor].provisioned:
        from vcfleet.push.yealink_driver import ProvisioningDriver
        return ProvisioningDriver(endpoint, options)
    if options.kind == "netmiko" and endpoint.vendor == "cisco_ce":
        from vcfleet.push.netmiko_driver import NetmikoDriver
        return NetmikoDriver(endpoint, options)
    # asyncssh serves every vendor; netmiko has no Poly SSH API driver, so Poly
    # always goes over asyncssh.
    from vcfleet.push.asyncssh_driver import ShellDriver
    return ShellDriver(endpoint, options)

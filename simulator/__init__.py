"""The fleet simulator: every endpoint of an inventory live on loopback, with faults on demand.

See docs/simulator.md.  ``Simulator`` is the Python API; ``vcfleet simulate`` the command.
"""

from simulator.core import Simulator, raise_file_limit
from simulator.endpoint import SimulatorError
from simulator.faults import EndpointFaults, FaultRule, Faults, load_faults, parse_faults
from simulator.state import default_state_dir

__all__ = [
    "EndpointFaults",
    "FaultRule",
    "Faults",
    "Simulator",
    "SimulatorError",
    "default_state_dir",
    "load_faults",
    "parse_faults",
    "raise_file_limit",
]

"""An offline, stateful simulator of the GoCardless Pro API and OAuth Connect.

Start it with `run()` (blocking) or build it in-process with `create_app()`; drive its
clock, statuses, faults and webhooks through the `/_sim/` admin API or the CLI
(`python -m app.simulators.gocardless --help`).
"""

from app.simulators.gocardless.app import create_app
from app.simulators.gocardless.server import prepare_account, run
from app.simulators.gocardless.state import SimulatorOptions, SimulatorState

__all__ = ["SimulatorOptions", "SimulatorState", "create_app", "prepare_account", "run"]

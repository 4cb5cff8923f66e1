"""A Kaltura API v3 simulator for tests, demos and benchmarks (see docs/kaltura.md).

`KalturaSim` runs it in the current event loop; `SimProcess` runs `python -m testbed.kaltura_sim` in a
subprocess (sync or async context manager); `SimControl` drives the `/__sim/*` control surface.
"""

from __future__ import annotations

from testbed.kaltura_sim.control import ControlError, SimControl
from testbed.kaltura_sim.process import SimProcess, SimStartError
from testbed.kaltura_sim.runner import KalturaSim, SimOptions

__all__ = ["ControlError", "KalturaSim", "SimControl", "SimOptions", "SimProcess", "SimStartError"]

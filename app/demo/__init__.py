"""`gocardless-zoho demo`: the service, both provider simulators and seeded data in one
process on an embedded SQLite file, behind one start page."""

from app.demo.errors import DemoError
from app.demo.runner import DemoOptions, run_demo

__all__ = ["DemoError", "DemoOptions", "run_demo"]

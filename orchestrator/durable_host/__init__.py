"""The local durable host: runs an unmodified azure-functions-durable 1.x app on SQLite.

It speaks the Functions host's protocol to the SDK (docs/durable-host.md is its specification), serves the
app's HTTP routes and the durable management API on one origin, and keeps every instance,
history, timer, event and activity work item in SQLite so a restart resumes everything.
"""

from durable_host.cli import main as main
from durable_host.discovery import FunctionIndex as FunctionIndex
from durable_host.discovery import load_app as load_app
from durable_host.engine import Engine as Engine
from durable_host.errors import DurableHostError as DurableHostError
from durable_host.http_app import HostConfig as HostConfig
from durable_host.http_app import build_app as build_app
from durable_host.store import RuntimeStatus as RuntimeStatus
from durable_host.store import Store as Store

"""The toolmesh Functions app: it only wires the blueprints together.

The same file deploys to Azure Functions and runs on the local durable host.
"""

import azure.durable_functions as df
import azure.functions as func

from agent_loop.activities import bp as activities
from agent_loop.agent_setup import bp as agent_setup
from agent_loop.agents_api import bp as agents_api
from agent_loop.conversation_activities import bp as conversation_activities
from agent_loop.events_api import bp as events_api
from agent_loop.http_api import bp as http_api
from agent_loop.mcp_api import bp as mcp_api
from agent_loop.mcp_gateway import bp as mcp_gateway
from agent_loop.mcp_tasks import bp as mcp_tasks
from agent_loop.messages_api import bp as messages_api
from agent_loop.network import bp as network
from agent_loop.orchestration import bp as orchestration
from agent_loop.run_stream_api import bp as run_stream_api
from agent_loop.schedules import bp as schedules
from agent_loop.telemetry import configure_telemetry
from console.http_route import console_bp

configure_telemetry()
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(orchestration)
app.register_functions(network)
app.register_functions(activities)
app.register_functions(http_api)
app.register_functions(run_stream_api)
app.register_functions(mcp_api)
app.register_functions(mcp_gateway)
app.register_functions(mcp_tasks)
app.register_functions(agent_setup)
app.register_functions(agents_api)
app.register_functions(events_api)
app.register_functions(schedules)
app.register_functions(conversation_activities)
app.register_functions(messages_api)
app.register_functions(console_bp)

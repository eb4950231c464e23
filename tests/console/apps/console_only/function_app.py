"""A function app holding only the console route, to check it on the local durable host."""

import azure.durable_functions as df
import azure.functions as func

from console.http_route import console_bp

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(console_bp)

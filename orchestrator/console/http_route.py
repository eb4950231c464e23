"""The console's HTTP route as a Functions blueprint: ``app.register_functions(console_bp)``.

The page is anonymous on purpose: it holds no data and no key. It asks for the function key
in the browser and sends it with every API call, so the API keeps its own authorization.
"""

from __future__ import annotations

import azure.functions as func

from console import console_headers, render_console

__all__ = ["console_bp"]

console_bp = func.Blueprint()  # type: ignore[no-untyped-call]


@console_bp.route(route="console", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console_page(req: func.HttpRequest) -> func.HttpResponse:
    """The web console page (HTML with its script and style inline)."""
    headers = console_headers()
    return func.HttpResponse(render_console(), status_code=200, mimetype="text/html", charset="utf-8", headers=headers)

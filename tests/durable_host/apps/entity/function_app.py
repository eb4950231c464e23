# mypy: allow-untyped-decorators
"""An app with a durable entity, which the local host refuses at start (test fixture)."""

import azure.durable_functions as df

app = df.DFApp()


@app.entity_trigger(context_name="context")
def counter_entity(context: df.DurableEntityContext) -> None:
    context.set_result(0)

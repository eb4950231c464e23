import azure.durable_functions as df

from tests.durable_host.apps import pattern_logic as logic

main = df.Orchestrator.create(logic.wait_for_go)

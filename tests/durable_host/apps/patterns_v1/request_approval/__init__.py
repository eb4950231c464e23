from tests.durable_host.apps import pattern_logic as logic


def main(request: dict[str, object]) -> str:
    return logic.request_approval(request)

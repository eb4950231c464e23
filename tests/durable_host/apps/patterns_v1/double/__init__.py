from tests.durable_host.apps import pattern_logic as logic


def main(value: int) -> int:
    return logic.double(value)

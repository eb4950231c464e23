from tests.durable_host.apps import pattern_logic as logic


def main(check: dict[str, int]) -> str:
    return logic.check_job(check)

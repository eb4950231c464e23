"""Code shared by the app's functions, outside any function folder."""

from __app__.shared_code import punctuation  # type: ignore[import-not-found]


def greet(name: str) -> str:
    return f"Hello {name}{punctuation.MARK}"

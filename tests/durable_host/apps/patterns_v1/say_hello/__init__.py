"""Greets through a module shared by the app's functions, imported as the worker allows."""

from ..shared_code.greeting import greet


def main(name: str) -> str:
    return greet(name)

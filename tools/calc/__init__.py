"""Calc service: exact arithmetic and unit conversion for what models get wrong."""

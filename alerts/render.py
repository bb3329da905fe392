"""Dutch texts for people: numbers as a Dutch reader writes them, one-line summaries per rule."""

from __future__ import annotations

__all__ = ["cap_exceeded_summary", "nl_int"]


def nl_int(value: float) -> str:
    """``2380`` -> ``"2.380"``: a dot groups thousands in Dutch."""
    number = round(value)
    sign = "-" if number < 0 else ""
    return sign + f"{abs(number):,}".replace(",", ".")


def _personen(count: float) -> str:
    return f"{nl_int(count)} {'persoon' if round(count) == 1 else 'personen'}"


def cap_exceeded_summary(name: str, occupancy: int, cap: int, *, firing: bool) -> str:
    if firing:
        over = occupancy - cap
        grens = nl_int(cap)
        return (
            f"{name}: {_personen(occupancy)}, {nl_int(over)} boven de afgesproken grens van {grens}"
        )
    return f"{name}: weer binnen de grens, {_personen(occupancy)} (grens {nl_int(cap)})"

"""The capacity gauges of /metrics: which samples each record gives, and their exposition text,
kept per record so that a scrape renders only what changed since the last one (issue 12).

A scrape used to rebuild every location's, province's and the nation's samples from the tables and
let ``prometheus_client.generate_latest`` format each one: with 400 locations some 5,000 samples a
second at one scrape a second, 8 % of a worker replaying a backlog. Records are immutable values
(the tables hand out the same object while a record is unchanged, ``streams.state.split``), so a
:class:`RecordCache` keeps, per key, the record it rendered, the objects the samples also depend on
(the location, the config), the samples, and their lines in the text format. A scrape reuses
every entry whose objects are the very ones it was made from, renders the others, and forgets the
keys it did not see (a location that disappeared leaves no stale series).

The text is the one ``generate_latest`` writes for the same samples: label names sorted, label
values escaped the same way, values through ``floatToGoString``; tests/edge/test_metrics_cache.py
compares it with the collector as it was before.

Must not import faust, aiokafka or httpx; reads no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.utils import floatToGoString

__all__ = ["Family", "RecordCache", "Rendered", "Sample", "label_text"]

#: One sample: its label values, in the family's label order, and its value.
Sample = tuple[tuple[str, ...], float]


def _escape_value(value: str) -> str:
    """A label value as the text format writes it (``prometheus_client``'s escaping)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def label_text(names: Sequence[str], values: Sequence[str]) -> str:
    """``{name="value",...}`` with the names sorted, as ``generate_latest`` writes labels; empty
    for none."""
    if not names:
        return ""
    pairs = sorted(zip(names, values, strict=True))
    return "{" + ",".join(f'{name}="{_escape_value(value)}"' for name, value in pairs) + "}"


@dataclass(frozen=True, slots=True)
class Family:
    """One gauge: its name, HELP text (ending in ``GLOBAL``) and label names."""

    name: str
    doc: str
    labels: tuple[str, ...] = ()
    #: ``# HELP`` and ``# TYPE`` lines, as ``generate_latest`` writes them.
    header: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        help_text = self.doc.replace("\\", r"\\").replace("\n", r"\n")
        header = f"# HELP {self.name} {help_text}\n# TYPE {self.name} gauge\n"
        object.__setattr__(self, "header", header)

    def line(self, labels: str, value: float) -> str:
        """One sample's line, given its label text (:func:`label_text`)."""
        # prometheus_client leaves floatToGoString unannotated.
        return f"{self.name}{labels} {floatToGoString(value)}\n"  # type: ignore[no-untyped-call]

    def metric(self, samples: Iterable[Sample]) -> GaugeMetricFamily:
        """The family as a ``prometheus_client`` metric, for a registry's ``collect``."""
        family = GaugeMetricFamily(self.name, self.doc, labels=list(self.labels))
        for values, value in samples:
            family.add_metric(list(values), value)
        return family


@dataclass(frozen=True, slots=True)
class Rendered:
    """What one record gives: per family (in the order of the families it was made for) its
    samples and their lines, and anything else a scrape sums over records (``extra``)."""

    samples: tuple[tuple[Sample, ...], ...]
    text: tuple[str, ...]
    extra: Any = None

    @classmethod
    def build(
        cls, families: Sequence[Family], samples: Sequence[list[Sample]], extra: Any = None
    ) -> Rendered:
        """``samples`` per family; the lines are made here. Samples that share their label
        values share one label text (a location's gauges all carry the same three labels)."""
        text = []
        labels_for: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}
        for family, found in zip(families, samples, strict=True):
            if not found:
                text.append("")
                continue
            names, lines = family.labels, []
            for values, value in found:
                labels = labels_for.get((names, values))
                if labels is None:
                    labels = labels_for[(names, values)] = label_text(names, values)
                lines.append(family.line(labels, value))
            text.append("".join(lines))
        return cls(tuple(tuple(s) for s in samples), tuple(text), extra)


K = TypeVar("K")


class RecordCache(Generic[K]):
    """:class:`Rendered` per key, reused while every object it depends on is the same object."""

    def __init__(self, render: Callable[..., Rendered]) -> None:
        self._render = render
        self._entries: dict[K, tuple[tuple[Any, ...], Rendered]] = {}
        #: Renders done and reused in the last :meth:`update` (for tests and the benchmark).
        self.rendered = 0
        self.reused = 0

    def update(self, items: Iterable[tuple[K, tuple[Any, ...]]]) -> list[Rendered]:
        """The rendering of each ``(key, depends_on)`` in the order given; ``render`` is called
        with ``*depends_on`` for a key whose objects changed. Keys not given are forgotten."""
        entries: dict[K, tuple[tuple[Any, ...], Rendered]] = {}
        found = []
        rendered = reused = 0
        old = self._entries
        for key, depends in items:
            entry = old.get(key)
            if entry is not None and _same(entry[0], depends):
                reused += 1
            else:
                entry = (depends, self._render(*depends))
                rendered += 1
            entries[key] = entry
            found.append(entry[1])
        self._entries = entries
        self.rendered, self.reused = rendered, reused
        return found


def _same(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))

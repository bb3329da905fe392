"""Silences made through the API, kept on a compacted topic and followed by every worker.

``POST /api/silences`` writes one record keyed by its id, ``DELETE /api/silences/{id}`` a
tombstone; :class:`SilenceBook` reads the topic from the start and keeps what is there. Silences
from the config file are part of the routing configuration and need no topic.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.errors import ConfigError
from alerts.routing import Silence, parse_silence
from streams.follow import follow_topic

__all__ = ["SilenceBook"]


class SilenceBook:
    def __init__(self) -> None:
        self._silences: dict[str, Silence] = {}

    def active(self) -> tuple[Silence, ...]:
        """Every silence the API made (the routing checks each one's own time window)."""
        return tuple(self._silences.values())

    def apply(self, key: str, value: bytes | None) -> None:
        if value is None:
            self._silences.pop(key, None)
            return
        try:
            raw: Any = json.loads(value)
            self._silences[key] = parse_silence(raw, key, f"silence {key}")
        except (ValueError, ConfigError):
            self._silences.pop(key, None)  # unreadable: never silence by accident

    async def follow(self, bootstrap: str, topic: str) -> None:
        await follow_topic(bootstrap, topic, self.apply)

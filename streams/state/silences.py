"""Silences made through the API, kept on a compacted topic and followed by every worker.

``POST /api/silences`` writes one record keyed by its id, ``DELETE /api/silences/{id}`` a
tombstone; :class:`SilenceBook` reads the topic from the start and keeps what is there. Silences
from the config file are part of the routing configuration and need no topic.
"""

from __future__ import annotations

from alerts.dispatch.silence import Silence
from alerts.errors import InvalidReport
from streams.messages import decode_silence
from streams.state.follow import Skipped, follow_topic

__all__ = ["SilenceBook"]


class SilenceBook:
    def __init__(self) -> None:
        self._silences: dict[str, Silence] = {}

    def active(self) -> tuple[Silence, ...]:
        """Every silence the API made (the routing checks each one's own time window)."""
        return tuple(self._silences.values())

    def get(self, silence_id: str) -> Silence | None:
        """The silence made through the API with this id (expired ones too), or None."""
        return self._silences.get(silence_id)

    def apply(self, key: str, value: bytes | None) -> None:
        """One record of the silences topic: a silence, or a tombstone that ends it. An
        unreadable record ends the silence of its key too (never silence by accident) and
        raises :class:`InvalidReport`, which the follow loop logs and counts."""
        if value is None:
            self._silences.pop(key, None)
            return
        try:
            self._silences[key] = decode_silence(key, value)
        except InvalidReport:
            self._silences.pop(key, None)
            raise

    async def follow(self, bootstrap: str, topic: str, *, skipped: Skipped | None = None) -> None:
        await follow_topic(bootstrap, topic, self.apply, skipped=skipped)

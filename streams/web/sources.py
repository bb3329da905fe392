"""Who may send occupancy and intake reports over HTTP (``POST /api/reports``, the page
``/melden``): the sources file named by OPVANG_SOURCES, each source's token stored as its SHA-256
only, and the locations it may report for.

The file::

    sources:
      - name: coa-ter-apel
        token_sha256: 3b5d...        # `opvangwacht source token` makes a token and this line
        locations: [ter-apel]        # location ids it may report for
        municipalities: [GM1950]     # and/or every location in these municipalities

A token is 32 random bytes (:func:`new_token`), so a plain SHA-256 is enough to keep it useless
to whoever reads the file; a slow hash (scrypt) guards guessable passwords, which these are not.
Looking a token up compares its hash with every source's in constant time.

Reads the file it is given; nothing of Faust, Kafka or the worker's state.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alerts.errors import ConfigError

__all__ = ["TOKEN_PREFIX", "Source", "Sources", "hash_token", "load_sources", "new_token"]

#: Every token starts with this, so that a secret scanner (or a person) recognises one.
TOKEN_PREFIX = "opvm_"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_LOCATION_ID = re.compile(r"[a-z0-9-]{1,64}")
_MUNICIPALITY = re.compile(r"GM[0-9]{4}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_KEYS = {"name", "token_sha256", "locations", "municipalities"}


def new_token() -> str:
    """A new source token: the prefix and 32 random bytes, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the sources file stores for ``token``: its SHA-256, in lowercase hex. Any text
    hashes, also a header with bytes that are not UTF-8 (aiohttp hands those over as
    surrogates)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Source:
    """One sender of reports: a location's staff, or an organisation with several locations."""

    name: str
    token_sha256: str
    locations: frozenset[str] = frozenset()
    municipalities: frozenset[str] = frozenset()

    def may_report(self, location_id: str, municipality_code: str | None) -> bool:
        """Whether this source may report for the location (its municipality from the
        registry; None when the location is unknown)."""
        if location_id in self.locations:
            return True
        return municipality_code is not None and municipality_code in self.municipalities

    def scope(self) -> str:
        """The scope in one line, for answers and logs."""
        parts = sorted(self.locations) + sorted(self.municipalities)
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Sources:
    """Every configured source; empty when OPVANG_SOURCES is unset."""

    sources: tuple[Source, ...] = ()

    def __len__(self) -> int:
        return len(self.sources)

    def find(self, token: str) -> Source | None:
        """The source whose token this is, or None. Every source's hash is compared, in
        constant time, whether or not an earlier one matched."""
        digest = hash_token(token).encode()
        found = None
        for source in self.sources:
            if hmac.compare_digest(source.token_sha256.encode(), digest):
                found = source
        return found

    @classmethod
    def from_mapping(cls, raw: Any) -> Sources:
        """The ``sources:`` list of a parsed YAML document; :class:`ConfigError` naming the
        entry and field for anything wrong."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping) or set(raw) - {"sources"}:
            raise ConfigError("the file must hold one key, 'sources:', with a list of sources")
        items = raw.get("sources") or []
        if not isinstance(items, list):
            raise ConfigError("'sources' must be a list")
        parsed = tuple(_source(item, index) for index, item in enumerate(items, start=1))
        _unique((s.name for s in parsed), "name")
        _unique((s.token_sha256 for s in parsed), "token_sha256")
        return cls(parsed)


def _unique(values: Iterable[str], field: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            shown = value if field == "name" else value[:12] + "…"
            raise ConfigError(f"two sources have the same {field} ({shown})")
        seen.add(value)


def _source(item: Any, index: int) -> Source:
    where = f"source {index}"
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: must be a mapping with name, token_sha256, locations")
    unknown = sorted(str(k) for k in set(item) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})"
        )
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: 'name' must be 1 to 64 letters, digits, '.', '_' or '-'")
    where = f"source {name!r}"
    digest = item.get("token_sha256")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise ConfigError(
            f"{where}: 'token_sha256' must be 64 lowercase hex digits: make one with "
            "`opvangwacht source token`"
        )
    locations = _list(item, "locations", _LOCATION_ID, where)
    municipalities = _list(item, "municipalities", _MUNICIPALITY, where)
    if not locations and not municipalities:
        raise ConfigError(f"{where}: give 'locations' or 'municipalities' it may report for")
    return Source(name, digest, frozenset(locations), frozenset(municipalities))


def _list(item: Mapping[str, Any], key: str, pattern: re.Pattern[str], where: str) -> list[str]:
    values = item.get(key) or []
    if not isinstance(values, list) or not all(
        isinstance(v, str) and pattern.fullmatch(v) for v in values
    ):
        raise ConfigError(f"{where}: {key!r} must be a list of values like {pattern.pattern}")
    return values


def load_sources(path: Path | None) -> Sources:
    """The sources file (None: no sources, reports over HTTP are refused). Errors name the
    file and say what is wrong in one line."""
    if path is None:
        return Sources()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (OPVANG_SOURCES points at it)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; OPVANG_SOURCES names a YAML file") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ConfigError(f"{path}: not valid YAML: {reason}") from None
    try:
        return Sources.from_mapping(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None

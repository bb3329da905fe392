"""Process settings, read once from the environment (the only place that reads it)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from alerts.config import AlertingConfig
from alerts.errors import ConfigError

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "VARIABLES",
    "Settings",
    "credential_names",
    "load_alerting_config",
    "load_dry_run_config",
]

DEFAULT_BOOTSTRAP = "localhost:9092"

#: Every variable :meth:`Settings.from_env` reads, with what it sets (``opvangwacht worker
#: --help`` prints these; tests/edge/test_settings.py checks that none is missing).
VARIABLES: dict[str, str] = {
    "OPVANG_KAFKA_BOOTSTRAP": "the Kafka brokers, host:port[,...] (unset: the embedded broker)",
    "OPVANG_TOPIC_PREFIX": "prefix of every topic name (opvang.)",
    "OPVANG_PARTITIONS": "partitions of the topics the worker creates (4)",
    "OPVANG_REPLICATION_FACTOR": "copies of each topic and changelog it makes (1; 3 on a cluster)",
    "OPVANG_CONFIG": "the alerting YAML (unset: built-in rules, no receivers)",
    "OPVANG_WEB_HOST": "address of the status page, /health, /metrics and /api (127.0.0.1)",
    "OPVANG_WEB_PORT": "their port (6066)",
    "OPVANG_API_TOKEN": "bearer token for acknowledgements, silences, receivers (unset: read only)",
    "OPVANG_DLR_TOKEN": "secret last path segment of the SMS delivery-report URL",
    "OPVANG_SOURCES": "YAML of the sources that may send reports over HTTP (unset: none)",
    "OPVANG_PAGERDUTY_WEBHOOK_SECRET": "PagerDuty v3 webhook secret(s), comma separated",
    "OPVANG_WORKER_ID": "this worker's lasting name in its group (static membership)",
    "OPVANG_SESSION_TIMEOUT": "seconds before a silent worker's partitions move (10)",
    "OPVANG_STANDBY_REPLICAS": "warm copies of each partition's tables on other workers (1)",
    "OPVANG_DATA_DIR": "the worker's Faust data directory",
    "OPVANG_CAP_SENDER": "sender of the CAP messages (opvangwacht)",
    "OPVANG_CAP_EXERCISE": "1: mark CAP messages as an exercise",
    "OPVANG_STATUS_URL": "public address of the status page, for links in SMS texts (unset: none)",
}


#: What OPVANG_STATUS_URL may be: an absolute http(s) address of at most 100 characters, no query
#: or fragment (links to a place on the page add ``#locatie-<id>``), in characters an SMS carries.
_STATUS_URL: Final = re.compile(
    r"(?=.{1,100}$)https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._/-]*)?"
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a worker needs to know about its surroundings.

    ``bootstrap`` is None when OPVANG_KAFKA_BOOTSTRAP is unset: the embedded broker on
    localhost:9092 is meant.
    """

    bootstrap: str | None = None
    topic_prefix: str = "opvang."
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    config_path: Path | None = None
    api_token: str | None = None
    partitions: int = 4
    data_dir: Path = Path("/tmp/opvangwacht-worker")
    #: OPVANG_WORKER_ID: this worker's lasting name in its consumer group (Kafka's static
    #: membership, ``group.instance.id``). Unset: a new member at every start.
    worker_id: str | None = None
    #: OPVANG_STANDBY_REPLICAS: how many other workers keep a warm copy of each partition's
    #: tables, so one that takes over a dead worker's partitions need not read whole changelogs.
    standby_replicas: int = 1
    #: OPVANG_SESSION_TIMEOUT: seconds without a heartbeat before the group gives a worker's
    #: partitions to the others (the failover time after a kill -9 or a lost machine).
    session_timeout_s: float = 10.0
    #: OPVANG_REPLICATION_FACTOR: copies of every topic and changelog the project creates (1 on
    #: the single development broker, 3 on a cluster such as `opvangwacht kafka start --brokers 3`).
    replication_factor: int = 1
    #: OPVANG_DLR_TOKEN: the secret last path segment of the SMS providers' delivery-report URL.
    #: Unset: delivery reports are refused (404).
    dlr_token: str | None = None
    #: OPVANG_SOURCES: the YAML file of the sources that may send reports over HTTP (``POST
    #: /api/reports``, the page ``/melden``), with their hashed tokens and scopes
    #: (``streams.web.sources``). Unset: no source, such reports are refused.
    sources_path: Path | None = None
    #: OPVANG_PAGERDUTY_WEBHOOK_SECRET: the secrets of the PagerDuty v3 webhook subscriptions
    #: whose signed deliveries acknowledge alerts. Empty: the webhook answers 404.
    pagerduty_webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    #: OPVANG_CAP_SENDER and OPVANG_CAP_EXERCISE: the CAP messages' sender, and whether they are
    #: marked as an exercise.
    cap_sender: str = "opvangwacht"
    cap_exercise: bool = False
    #: OPVANG_STATUS_URL: the status page's public address (``https://status.example.nl/``), the
    #: link an SMS bundle ends with when it fits. Unset: texts say "zie statuspagina" only.
    status_url: str | None = None
    #: The environment the receivers' credentials are looked up in (the config names the
    #: variables, e.g. ``token_env``): read once here, like everything else.
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def broker_address(self) -> str:
        return self.bootstrap or DEFAULT_BOOTSTRAP

    @property
    def min_insync_replicas(self) -> int | None:
        """``min.insync.replicas`` of the topics the project creates: 2 with three or more copies
        (a write is acknowledged once two brokers hold it, and one broker may die), else the
        broker's default."""
        return 2 if self.replication_factor >= 3 else None

    @property
    def app_id(self) -> str:
        """Faust application id (consumer group, changelog topic names), derived from the prefix
        so that two prefixes on one broker never share state."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.topic_prefix.lower()).strip("-") or "default"
        return f"opvangwacht-{slug}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        port_text = env.get("OPVANG_WEB_PORT", "6066")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"OPVANG_WEB_PORT must be a port number, got {port_text!r}")
        partitions_text = env.get("OPVANG_PARTITIONS", "4")
        if not partitions_text.isdigit() or int(partitions_text) < 1:
            raise ConfigError(f"OPVANG_PARTITIONS must be a whole number >= 1: {partitions_text!r}")
        config = env.get("OPVANG_CONFIG")
        prefix = env.get("OPVANG_TOPIC_PREFIX", "opvang.")
        if not re.fullmatch(r"[A-Za-z0-9._-]*", prefix):
            raise ConfigError("OPVANG_TOPIC_PREFIX may hold letters, digits, '.', '_', '-' only")
        default_data = Path(env.get("TMPDIR", "/tmp")) / f"opvangwacht-{os.getuid()}"
        worker_id = env.get("OPVANG_WORKER_ID") or None
        if worker_id is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", worker_id):
            raise ConfigError(
                "OPVANG_WORKER_ID may hold letters, digits, '.', '_', '-' only (1 to 200 of them)"
            )
        standby_text = env.get("OPVANG_STANDBY_REPLICAS", "1")
        if not standby_text.isdigit():
            raise ConfigError(
                f"OPVANG_STANDBY_REPLICAS must be a whole number >= 0: {standby_text!r}"
            )
        session_text = env.get("OPVANG_SESSION_TIMEOUT", "10")
        try:
            session = float(session_text)
        except ValueError:
            session = -1.0
        if not 6 <= session <= 300:
            raise ConfigError(
                f"OPVANG_SESSION_TIMEOUT must be seconds from 6 to 300: {session_text!r}"
            )
        copies = env.get("OPVANG_REPLICATION_FACTOR", "1")
        if not copies.isdigit() or not 1 <= int(copies) <= 7:
            raise ConfigError(
                f"OPVANG_REPLICATION_FACTOR must be a whole number from 1 to 7: {copies!r}"
            )
        status_url = env.get("OPVANG_STATUS_URL", "").strip() or None
        if status_url is not None and not _STATUS_URL.fullmatch(status_url):
            raise ConfigError(
                "OPVANG_STATUS_URL must be the status page's address, http(s)://host[:port]/path "
                f"without spaces, query or #fragment (at most 100 characters): {status_url[:120]!r}"
            )
        return cls(
            bootstrap=env.get("OPVANG_KAFKA_BOOTSTRAP") or None,
            topic_prefix=prefix,
            web_port=int(port_text),
            web_host=env.get("OPVANG_WEB_HOST", "127.0.0.1"),
            config_path=Path(config) if config else None,
            api_token=env.get("OPVANG_API_TOKEN") or None,
            partitions=int(partitions_text),
            data_dir=Path(env.get("OPVANG_DATA_DIR", str(default_data))),
            worker_id=worker_id,
            standby_replicas=int(standby_text),
            session_timeout_s=session,
            replication_factor=int(copies),
            dlr_token=env.get("OPVANG_DLR_TOKEN") or None,
            sources_path=Path(sources) if (sources := env.get("OPVANG_SOURCES")) else None,
            pagerduty_webhook_secrets=tuple(
                part.strip()
                for part in env.get("OPVANG_PAGERDUTY_WEBHOOK_SECRET", "").split(",")
                if part.strip()
            ),
            cap_sender=env.get("OPVANG_CAP_SENDER") or "opvangwacht",
            cap_exercise=env.get("OPVANG_CAP_EXERCISE", "") not in ("", "0", "false"),
            status_url=status_url,
            secrets=dict(env),
        )


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (OPVANG_CONFIG points at it)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def _from_mapping(path: Path, raw: Any, env: Mapping[str, str]) -> AlertingConfig:
    from streams.reference import load_targets

    try:
        return AlertingConfig.from_mapping(raw, env).with_targets(load_targets())
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_alerting_config(path: Path | None) -> AlertingConfig:
    """Read the YAML file (None: built-in defaults, no receivers). Errors name the file."""
    from streams.reference import load_targets

    if path is None:
        return AlertingConfig().with_targets(load_targets())
    return _from_mapping(path, _read_yaml(path), os.environ)


#: What a credential named by the config but absent from the environment reads as in a dry run.
#: The webhook one is a well-formed ``whsec_`` key (the parser checks the form), never used.
_PLACEHOLDER = "dry-run-placeholder"
_PLACEHOLDER_WEBHOOK_SECRET = "whsec_ZHJ5LXJ1bi1wbGFjZWhvbGRlci1rZXk="


def credential_names(raw: Any) -> dict[str, bool]:
    """Environment variables the receivers of a raw config name: ``{name: is_webhook_secret}``."""
    names: dict[str, bool] = {}
    items = raw.get("receivers") if isinstance(raw, Mapping) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        for body in item.values():
            if not isinstance(body, Mapping):
                continue
            for key, value in body.items():
                values = value if isinstance(value, list) else [value]
                if str(key).endswith(("_env", "_envs")):
                    for name in values:
                        if isinstance(name, str):
                            names[name] = str(key).startswith("secret_env")
    return names


def load_dry_run_config(
    path: Path | None, env: Mapping[str, str] | None = None
) -> tuple[AlertingConfig, tuple[str, ...]]:
    """The alerting config as :func:`load_alerting_config` reads it, for a dry run: credentials
    the receivers name but the environment lacks get a placeholder (nothing is sent), and their
    variable names come back so the caller can say the worker would refuse to start."""
    from streams.reference import load_targets

    if path is None:
        return AlertingConfig().with_targets(load_targets()), ()
    env = os.environ if env is None else env
    raw = _read_yaml(path)
    filled = dict(env)
    missing = []
    for name, is_webhook_secret in credential_names(raw).items():
        if not env.get(name, "").strip():
            missing.append(name)
            filled[name] = _PLACEHOLDER_WEBHOOK_SECRET if is_webhook_secret else _PLACEHOLDER
    return _from_mapping(path, raw, filled), tuple(missing)

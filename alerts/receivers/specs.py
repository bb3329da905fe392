"""Receiver specs: where alerts go, parsed and validated from the ``receivers`` list of the config.

Pure: no network, no clock, and no environment of its own. The caller hands in the environment as
a mapping so that a receiver can name its credentials by environment variable (``token_env:
CM_PRODUCT_TOKEN``) instead of holding them; webhook signing secrets are looked up here (they are
needed to sign every delivery), every other credential is looked up by the notifier factory.
Phone numbers are normalised to E.164 here. Must not import httpx, faust, aiokafka or
``streams``; within ``alerts.receivers`` only ``redact``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import phonenumbers

from alerts.errors import ConfigError
from alerts.model import PROVINCES
from alerts.receivers.redact import mask_phone, safe_target

__all__ = [
    "CHANNEL_KINDS",
    "DEFAULT_ALERTMANAGER_TTL_S",
    "DEFAULT_PAGERDUTY_URL",
    "SMS_BASE_URLS",
    "SMS_PROVIDERS",
    "AlertmanagerSpec",
    "PagerDutySpec",
    "ReceiverSpec",
    "SmsSpec",
    "WebhookSpec",
    "normalise_phone",
    "parse_receivers",
    "webhook_secret_key",
]

SmsProvider = Literal["cm", "messagebird", "twilio"]
SMS_PROVIDERS: Final[tuple[SmsProvider, ...]] = ("cm", "messagebird", "twilio")
#: Documented production endpoints; ``base_url`` in the config overrides them (tests: loopback).
SMS_BASE_URLS: Final[Mapping[str, str]] = {
    "cm": "https://gw.messaging.cm.com",
    "messagebird": "https://rest.messagebird.com",
    "twilio": "https://api.twilio.com",
}
DEFAULT_PAGERDUTY_URL: Final = "https://events.pagerduty.com/v2/enqueue"
#: Alertmanager forgets an alert that is not re-sent; a firing alert is sent with an ``endsAt``
#: this far ahead, and the resolve (or the next revision) replaces it.
DEFAULT_ALERTMANAGER_TTL_S: Final = 7 * 24 * 3600.0
CHANNEL_KINDS: Final = ("webhook", "sms", "pagerduty", "alertmanager")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MUNICIPALITY = re.compile(r"^GM\d{4}$")
_ALPHA_SENDER = re.compile(r"^[A-Za-z0-9 ]{1,11}$")


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """A signed CloudEvents webhook. ``secrets`` are ``whsec_`` base64 keys, newest first; during a
    rotation two are active and every delivery carries a signature for each."""

    url: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    timeout: float = 5.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: ``cloudevents`` (the contract) or ``plain`` (the bare AlertEvent, for old receivers).
    envelope: Literal["cloudevents", "plain"] = "cloudevents"

    def __repr__(self) -> str:
        return (
            f"WebhookSpec(url={safe_target(self.url)!r}, secrets={len(self.secrets)}, "
            f"timeout={self.timeout}, envelope={self.envelope!r})"
        )


@dataclass(frozen=True, slots=True)
class SmsSpec:
    """SMS through one provider to E.164 numbers. Credentials are named by environment variable:
    ``token_env`` holds the CM product token, the MessageBird access key or the Twilio auth token
    (which is also the key of Twilio's signature on delivery reports); ``account_sid_env`` the
    Twilio Account SID; ``signing_key_env`` MessageBird's signing key, with which its delivery
    reports are signed (``MessageBird-Signature-JWT``)."""

    provider: SmsProvider
    to: tuple[str, ...]
    sender: str
    token_env: str
    base_url: str | None = None
    account_sid_env: str | None = None
    timeout: float = 10.0
    signing_key_env: str | None = None
    #: The segment budget: how many GSM-7 segments one message may take (1 to 3).
    segments: int = 1

    @property
    def report_key_env(self) -> str | None:
        """The variable holding the key that signs this provider's delivery reports: Twilio's
        auth token, MessageBird's signing key; None for CM, which does not sign them."""
        if self.provider == "twilio":
            return self.token_env
        if self.provider == "messagebird":
            return self.signing_key_env
        return None

    @property
    def api_base(self) -> str:
        return (self.base_url or SMS_BASE_URLS[self.provider]).rstrip("/")

    def __repr__(self) -> str:
        numbers = ", ".join(mask_phone(n) for n in self.to)
        return (
            f"SmsSpec(provider={self.provider!r}, to=[{numbers}], sender={self.sender!r}, "
            f"token_env={self.token_env!r}, base_url={safe_target(self.api_base)!r})"
        )


@dataclass(frozen=True, slots=True)
class PagerDutySpec:
    """PagerDuty Events API v2; the routing (integration) key is named by environment variable."""

    routing_key_env: str
    url: str = DEFAULT_PAGERDUTY_URL
    timeout: float = 10.0
    source: str = "opvangwacht"
    client_url: str | None = None

    def __repr__(self) -> str:
        return (
            f"PagerDutySpec(routing_key_env={self.routing_key_env!r}, "
            f"url={safe_target(self.url)!r})"
        )


@dataclass(frozen=True, slots=True)
class AlertmanagerSpec:
    """An Alertmanager (API v2) at ``url`` (scheme://host:port, optionally a path prefix)."""

    url: str
    timeout: float = 5.0
    #: Base of the back link in ``generatorURL`` (our web UI); none: the field is left out.
    generator_url: str | None = None
    #: Optional bearer token for an Alertmanager behind an auth proxy, by environment variable.
    token_env: str | None = None
    firing_ttl_s: float = DEFAULT_ALERTMANAGER_TTL_S

    def __repr__(self) -> str:
        return f"AlertmanagerSpec(url={safe_target(self.url)!r})"


ChannelSpec = WebhookSpec | SmsSpec | PagerDutySpec | AlertmanagerSpec


@dataclass(frozen=True, slots=True)
class ReceiverSpec:
    """One named receiver: its channel settings and, for routing, the area it covers."""

    name: str
    kind: str
    spec: ChannelSpec
    municipality_code: str | None = None
    province: str | None = None
    #: Seconds between attempts, overriding the channel's default schedule.
    retry_delays: tuple[float, ...] | None = None


# --------------------------------------------------------------------------- phone numbers


def normalise_phone(raw: str, *, where: str) -> str:
    """A mobile number as E.164 (``06 12345678`` -> ``+31612345678``; Dutch numbers without a
    country code are read with region NL). ConfigError naming ``where`` and a masked number."""
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{where} must be a phone number")
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, "NL")
    except phonenumbers.NumberParseException:
        raise ConfigError(f"{where}: {mask_phone(raw)} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ConfigError(f"{where}: {mask_phone(raw)} is not a valid phone number") from None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    kind = phonenumbers.number_type(parsed)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ConfigError(f"{where}: {mask_phone(e164)} is not a mobile number (no SMS)")
    return e164


# --------------------------------------------------------------------------- webhook secrets


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64 after the ``whsec_`` prefix.
    ValueError (without the secret in it) when it is not one."""
    if not secret.startswith("whsec_"):
        raise ValueError("a webhook secret starts with whsec_")
    body = secret[len("whsec_") :]
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is base64 after whsec_") from None
    if len(key) < 16:
        raise ValueError("a webhook secret needs at least 16 bytes (24 to 64 recommended)")
    return key


# --------------------------------------------------------------------------- parsing


def parse_receivers(raw_list: Any, env: Mapping[str, str]) -> tuple[ReceiverSpec, ...]:
    """The ``receivers`` list of the config as specs.

    Each item has a ``name``, optionally ``municipality_code``, ``province`` and ``retry`` (a list
    of seconds), and exactly one of ``webhook``, ``sms``, ``pagerduty``, ``alertmanager``. Every
    credential is named by environment variable; ``env`` must hold each one named (a missing one is
    a ConfigError naming the variable, never a value).
    """
    if raw_list is None:
        return ()
    if not isinstance(raw_list, list):
        raise ConfigError("receivers must be a list")
    specs: list[ReceiverSpec] = []
    for index, item in enumerate(raw_list):
        where = f"receivers[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ConfigError(f"{where} needs a name")
        name = item["name"].strip()
        if not name:
            raise ConfigError(f"{where} needs a name")
        where = f"{where} ({name})"
        if any(s.name == name for s in specs):
            raise ConfigError(f"{where}: receiver name {name!r} is used twice")
        kinds = [k for k in CHANNEL_KINDS if k in item]
        if len(kinds) != 1:
            raise ConfigError(
                f"{where} needs exactly one of {', '.join(CHANNEL_KINDS)}"
                + (f" (found {', '.join(kinds)})" if kinds else "")
            )
        known = {"name", "municipality_code", "province", "retry", *CHANNEL_KINDS}
        unknown = sorted(str(k) for k in item if k not in known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
        kind = kinds[0]
        body = item[kind]
        if not isinstance(body, Mapping):
            raise ConfigError(f"{where}.{kind} must be a mapping")
        spec: ChannelSpec
        if kind == "webhook":
            spec = _webhook(body, env, f"{where}.webhook")
        elif kind == "sms":
            spec = _sms(body, env, f"{where}.sms")
        elif kind == "pagerduty":
            spec = _pagerduty(body, env, f"{where}.pagerduty")
        else:
            spec = _alertmanager(body, env, f"{where}.alertmanager")
        specs.append(
            ReceiverSpec(
                name=name,
                kind=kind,
                spec=spec,
                municipality_code=_municipality(item.get("municipality_code"), where),
                province=_province(item.get("province"), where),
                retry_delays=_retry(item.get("retry"), where),
            )
        )
    return tuple(specs)


def _keys(body: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in body if k not in allowed)
    if not unknown:
        return
    hint = ""
    if any(
        k in ("secret", "secrets", "token", "routing_key", "api_key", "auth_token") for k in unknown
    ):
        hint = " (credentials are named by environment variable: use the *_env keys)"
    raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}{hint}")


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"{where} must be a URL starting with http:// or https://")
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{where} is not a valid URL") from None
    if not parts.hostname:
        raise ConfigError(f"{where} needs a host")
    return value


def _timeout(value: Any, default: float, where: str) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where} must be a positive number of seconds")
    return float(value)


def _env_name(value: Any, env: Mapping[str, str], where: str, *, required: bool = True) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ConfigError(f"{where} must name an environment variable (like CM_PRODUCT_TOKEN)")
    if required and not env.get(value):
        raise ConfigError(f"{where}: environment variable {value} is not set")
    return value


def _webhook(body: Mapping[str, Any], env: Mapping[str, str], where: str) -> WebhookSpec:
    _keys(body, {"url", "timeout", "headers", "secret_env", "secret_envs", "envelope"}, where)
    url = _url(body.get("url"), f"{where}.url")
    names: list[str] = []
    if "secret_env" in body:
        names.append(_env_name(body["secret_env"], env, f"{where}.secret_env"))
    extra = body.get("secret_envs") or []
    if not isinstance(extra, list):
        raise ConfigError(f"{where}.secret_envs must be a list of environment variable names")
    for i, name in enumerate(extra):
        names.append(_env_name(name, env, f"{where}.secret_envs[{i}]"))
    if len(names) > 2:
        raise ConfigError(f"{where}: at most two secrets at once (the new and the old one)")
    secrets: list[str] = []
    for name in names:
        value = env[name].strip()
        try:
            webhook_secret_key(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: the secret in {name} is unusable: {exc}") from None
        if value not in secrets:
            secrets.append(value)
    headers = body.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise ConfigError(f"{where}.headers must be a mapping")
    envelope = body.get("envelope", "cloudevents")
    if envelope not in ("cloudevents", "plain"):
        raise ConfigError(f"{where}.envelope must be cloudevents or plain")
    return WebhookSpec(
        url=url,
        secrets=tuple(secrets),
        timeout=_timeout(body.get("timeout"), 5.0, f"{where}.timeout"),
        headers={str(k): str(v) for k, v in headers.items()},
        envelope=envelope,
    )


def _sms(body: Mapping[str, Any], env: Mapping[str, str], where: str) -> SmsSpec:
    _keys(
        body,
        {
            "provider",
            "to",
            "sender",
            "token_env",
            "account_sid_env",
            "signing_key_env",
            "base_url",
            "timeout",
            "segments",
        },
        where,
    )
    segments = body.get("segments", 1)
    if isinstance(segments, bool) or segments not in (1, 2, 3):
        raise ConfigError(f"{where}.segments must be 1, 2 or 3 (SMS segments per message)")
    provider = body.get("provider")
    if provider not in SMS_PROVIDERS:
        raise ConfigError(f"{where}.provider must be one of {', '.join(SMS_PROVIDERS)}")
    raw_to = body.get("to")
    if isinstance(raw_to, str):
        raw_to = [raw_to]
    if not isinstance(raw_to, list) or not raw_to:
        raise ConfigError(f"{where}.to must be a phone number or a list of them")
    numbers: list[str] = []
    for i, raw in enumerate(raw_to):
        number = normalise_phone(
            raw if isinstance(raw, str) else str(raw), where=f"{where}.to[{i}]"
        )
        if number not in numbers:
            numbers.append(number)
    sender = body.get("sender")
    if not isinstance(sender, str) or not (
        _ALPHA_SENDER.match(sender) or re.fullmatch(r"\+?\d{3,15}", sender)
    ):
        raise ConfigError(
            f"{where}.sender must be at most 11 letters, digits or spaces, or a phone number"
        )
    token_env = _env_name(body.get("token_env"), env, f"{where}.token_env")
    account_sid_env = None
    if provider == "twilio":
        account_sid_env = _env_name(body.get("account_sid_env"), env, f"{where}.account_sid_env")
    elif "account_sid_env" in body:
        raise ConfigError(f"{where}.account_sid_env is for twilio only")
    signing_key_env = None
    if provider == "messagebird" and body.get("signing_key_env") is not None:
        signing_key_env = _env_name(body["signing_key_env"], env, f"{where}.signing_key_env")
    elif "signing_key_env" in body and provider != "messagebird":
        raise ConfigError(
            f"{where}.signing_key_env is for messagebird only (twilio signs with the auth "
            "token, cm does not sign)"
        )
    base_url = body.get("base_url")
    if base_url is not None:
        base_url = _url(base_url, f"{where}.base_url")
    return SmsSpec(
        provider=provider,
        to=tuple(numbers),
        sender=sender,
        token_env=token_env,
        base_url=base_url,
        account_sid_env=account_sid_env,
        timeout=_timeout(body.get("timeout"), 10.0, f"{where}.timeout"),
        signing_key_env=signing_key_env,
        segments=segments,
    )


def _pagerduty(body: Mapping[str, Any], env: Mapping[str, str], where: str) -> PagerDutySpec:
    _keys(body, {"routing_key_env", "url", "timeout", "source", "client_url"}, where)
    source = body.get("source", "opvangwacht")
    if not isinstance(source, str) or not source:
        raise ConfigError(f"{where}.source must be a text")
    client_url = body.get("client_url")
    if client_url is not None:
        client_url = _url(client_url, f"{where}.client_url")
    return PagerDutySpec(
        routing_key_env=_env_name(body.get("routing_key_env"), env, f"{where}.routing_key_env"),
        url=_url(body.get("url", DEFAULT_PAGERDUTY_URL), f"{where}.url"),
        timeout=_timeout(body.get("timeout"), 10.0, f"{where}.timeout"),
        source=source,
        client_url=client_url,
    )


def _alertmanager(body: Mapping[str, Any], env: Mapping[str, str], where: str) -> AlertmanagerSpec:
    _keys(body, {"url", "timeout", "generator_url", "token_env", "firing_ttl"}, where)
    generator = body.get("generator_url")
    if generator is not None:
        generator = _url(generator, f"{where}.generator_url")
    token_env = body.get("token_env")
    if token_env is not None:
        token_env = _env_name(token_env, env, f"{where}.token_env")
    return AlertmanagerSpec(
        url=_url(body.get("url"), f"{where}.url"),
        timeout=_timeout(body.get("timeout"), 5.0, f"{where}.timeout"),
        generator_url=generator,
        token_env=token_env,
        firing_ttl_s=_timeout(
            body.get("firing_ttl"), DEFAULT_ALERTMANAGER_TTL_S, f"{where}.firing_ttl"
        ),
    )


def _municipality(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _MUNICIPALITY.match(value):
        raise ConfigError(f"{where}.municipality_code must be a CBS code like GM1950")
    return value


def _province(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if value not in PROVINCES:
        raise ConfigError(f"{where}.province must be one of {' '.join(PROVINCES)}")
    return str(value)


def _retry(value: Any, where: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}.retry must be a list of seconds between attempts")
    delays = []
    for i, delay in enumerate(value):
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ConfigError(f"{where}.retry[{i}] must be a number of seconds >= 0")
        delays.append(float(delay))
    return tuple(delays)

"""Loopback fakes of the providers' HTTP APIs, for tests: real servers on 127.0.0.1 in threads."""

from fakes.servers import (
    AlertmanagerFake,
    CmFake,
    FakeServer,
    MessageBirdFake,
    PagerDutyFake,
    Recorded,
    Reply,
    TwilioFake,
    WebhookReceiver,
    closed_port,
)

__all__ = [
    "AlertmanagerFake",
    "CmFake",
    "FakeServer",
    "MessageBirdFake",
    "PagerDutyFake",
    "Recorded",
    "Reply",
    "TwilioFake",
    "WebhookReceiver",
    "closed_port",
]

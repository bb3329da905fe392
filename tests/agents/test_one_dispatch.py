"""The worker and the dry run route through the same function (``alerts.dispatch.dispatcher``).

One scenario (Ter Apel, August 2022) goes through the worker's report agent, built by the
composition root with no broker; the alert changes the worker published then go through the dry
run (``alerts.simulate.dry_run``) with the same configuration. Every change must get the same
decision for every receiver in both: what the worker wrote to its audit trail (``routed``) and
what the dry run says.
"""

from __future__ import annotations

import json
from typing import Any

from fakes.worker import a_worker

from alerts.config import AlertingConfig
from alerts.delivery.bundle import members_of
from alerts.model import AlertEvent
from alerts.receivers.sms_text import sms_text
from alerts.simulate import dry_run
from streams.cli.publish import bundled_path, load_locations_file, read_scenario
from streams.messages import Notification, decode_notification_message
from streams.records import location_to_domain

#: Two receivers and an inhibition: the decisions differ per receiver and change over time, so
#: a router that decided differently in one of the two places would show.
CONFIG: dict[str, Any] = {
    "route": {
        "receiver": "coa-ops",
        "routes": [
            {"receiver": "gemeente-westerwolde", "matchers": {"municipality_code": "GM1950"}},
        ],
    },
    "receivers": [
        {"name": "coa-ops", "webhook": {"url": "https://ops.example.nl/hook"}},
        {"name": "gemeente-westerwolde", "webhook": {"url": "https://westerwolde.example.nl/h"}},
    ],
    "inhibit_rules": [
        {
            "source_matchers": {"rule": "cap_exceeded"},
            "target_matchers": {"rule": "without_bed"},
            "equal": ["location_id"],
        }
    ],
}


async def test_the_worker_and_the_dry_run_decide_alike() -> None:
    config = AlertingConfig.from_mapping(CONFIG, {})
    records = read_scenario(bundled_path("scenarios", "ter-apel-2022-08.jsonl"))
    locations = tuple(
        location_to_domain(json.dumps(r.value).encode())
        for r in [*load_locations_file(), *records]
        if r.topic == "locations"
    )
    worker, recorder = a_worker(config, locations)
    async with worker.ingest.agent.test_context() as agent:
        for record in sorted(records, key=lambda r: r.sort_key):
            if record.topic == "occupancy":
                await agent.put(json.dumps(record.value).encode(), key=record.key.encode())

    published = [AlertEvent.from_dict(value) for _, value in recorder.topics["alerts"].sent]
    assert len(published) >= 4, "the scenario must make several alert changes"
    in_worker = [
        (key.decode(), entry["revision"], entry["receiver"], entry["action"])
        for key, entry in recorder.topics["audit"].sent
        if key is not None and entry["type"] == "routed"
    ]
    simulated = dry_run(published, config)
    in_dry_run = [
        (item.event.alert_id, item.event.revision, target.receiver, target.action)
        for item in simulated.routed
        for target in item.targets
    ]
    assert in_worker == in_dry_run
    actions = {action for *_, action in in_worker}
    assert {"send", "inhibited"} <= actions, actions


#: A mayor with an SMS channel: the worker's router bundles what one report has for the mayor.
SMS_CONFIG: dict[str, Any] = {
    "route": {"receiver": "coa-ops"},
    "receivers": [
        {"name": "coa-ops", "webhook": {"url": "https://ops.example.nl/hook"}},
        {
            "name": "burgemeester-westerwolde",
            "municipality_code": "GM1950",
            "sms": {
                "provider": "cm",
                "to": "+31612345678",
                "sender": "Opvangwacht",
                "token_env": "CM_PRODUCT_TOKEN",
            },
        },
    ],
}


async def test_the_worker_and_the_dry_run_bundle_sms_alike() -> None:
    """The SMS notifications the worker's router puts on the topic for the mayor are the
    messages the dry run shows (the dry run's texted ones; the rest it folds, as delivery
    would), with the same members and the same text."""
    config = AlertingConfig.from_mapping(SMS_CONFIG, {"CM_PRODUCT_TOKEN": "x"})
    records = read_scenario(bundled_path("scenarios", "ter-apel-2022-08.jsonl"))
    locations = tuple(
        location_to_domain(json.dumps(r.value).encode())
        for r in [*load_locations_file(), *records]
        if r.topic == "locations"
    )
    worker, recorder = a_worker(config, locations)
    async with worker.ingest.agent.test_context() as agent:
        for record in sorted(records, key=lambda r: r.sort_key):
            if record.topic == "occupancy":
                await agent.put(json.dumps(record.value).encode(), key=record.key.encode())
    published = [AlertEvent.from_dict(value) for _, value in recorder.topics["alerts"].sent]
    texts_in_worker = []
    for key, value in recorder.topics["notifications"].sent:
        if key == b"burgemeester-westerwolde":
            message = decode_notification_message(json.dumps(value).encode())
            assert isinstance(message, Notification)
            texts_in_worker.append((members_of(message.event), sms_text(message.event)))
    simulated = dry_run(published, config)
    heads = {
        item.event.dedup_key: target.message.text
        for item in simulated.routed
        for target in item.targets
        if target.receiver == "burgemeester-westerwolde"
        and target.action == "send"
        and target.message is not None
    }
    texts_in_dry_run = [text for members, text in texts_in_worker if members[0] in heads]
    assert texts_in_dry_run == list(heads.values())
    folded = {
        item.event.dedup_key
        for item in simulated.routed
        for target in item.targets
        if target.receiver == "burgemeester-westerwolde" and target.action == "folded"
    }
    rest = {m for members, _ in texts_in_worker if members[0] not in heads for m in members}
    assert rest == folded, "what the dry run folds is what the worker leaves to delivery to fold"
    assert any(len(members) > 1 for members, _ in texts_in_worker), "no bundle made"
    assert len(texts_in_worker) < sum(
        1 for item in simulated.routed for t in item.targets if t.channel == "sms"
    )

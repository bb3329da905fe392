"""The ``opvangwacht`` command line.

    opvangwacht worker                      run the Faust worker
    opvangwacht kafka start|stop|status     the embedded single-node broker (--brokers 3: a
                                            local three-node cluster)
    opvangwacht load-locations [PATH]       publish reference locations
    opvangwacht replay PATH|NAME            publish a scenario in date order
    opvangwacht demo                        everything above, end to end, with a local webhook sink
    opvangwacht route --dry-run PATH|NAME   who would be told what, exact texts; sends nothing
    opvangwacht source token [--name N]     a new token for a reporting source, and its hash
    opvangwacht config check [FILE]         check the alerting file, print its route tree

Errors end with a sentence that says what to do, and exit code 2 (usage or configuration) or 1.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alerts.errors import ConfigError

if TYPE_CHECKING:  # imported lazily at run time: `opvangwacht --help` stays fast
    from streams.settings import Settings

__all__ = ["main"]


def _settings() -> Settings:
    from streams.settings import Settings

    return Settings.from_env()


def _ensure_broker(quiet: bool = False) -> None:
    """Start the embedded broker when no external one is configured."""
    from streams.dev import broker

    settings = _settings()
    if settings.bootstrap is not None:
        return
    status = broker.status()
    if status.running:
        return
    broker.start(progress=None if quiet else (lambda line: print(line, file=sys.stderr)))


def cmd_worker(args: argparse.Namespace) -> int:
    import faust

    from streams.logging import configure_logging, logging_dict_config
    from streams.settings import load_alerting_config
    from streams.topics import ensure_topics
    from streams.web.sources import load_sources
    from streams.worker.app import build_worker, tune_garbage_collector

    configure_logging(args.log_level.upper())
    settings = _settings()
    config = load_alerting_config(settings.config_path)  # fail here, clearly, not inside Faust
    sources = load_sources(settings.sources_path)
    busy = web_port_problem(settings.web_host, settings.web_port)
    if busy:
        print(f"opvangwacht: {busy}", file=sys.stderr)
        return 1
    _ensure_broker()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(settings))
    app = build_worker(settings, config, sources=sources).app

    worker = faust.Worker(
        app,
        loop=loop,
        loglevel=args.log_level.upper(),
        logging_config=logging_dict_config(args.log_level.upper()),
        redirect_stdouts=False,
        quiet=True,
    )
    tune_garbage_collector()
    worker.execute_from_commandline()
    return 0


def web_port_problem(host: str, port: int) -> str | None:
    """Why the worker could not serve its status page on ``host:port``, in one line, or None.

    Tried before anything starts, as aiohttp will bind it (SO_REUSEADDR), so a port that is taken
    says so here instead of as a traceback from deep inside Faust's start-up."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            why = "is already in use"
            fix = "stop what listens there, or set OPVANG_WEB_PORT to a free port"
        else:
            why = f"cannot be opened ({exc.strerror or exc})"
            fix = "set OPVANG_WEB_HOST and OPVANG_WEB_PORT to an address this machine may serve"
        return f"port {port} on {host} (OPVANG_WEB_HOST:OPVANG_WEB_PORT) {why}: {fix}"
    return None


def cmd_kafka(args: argparse.Namespace) -> int:
    from streams.dev import broker, cluster

    if args.brokers not in (None, 1, cluster.BROKERS):
        print(f"opvangwacht kafka: --brokers takes 1 or {cluster.BROKERS}", file=sys.stderr)
        return 2
    external = _settings().bootstrap

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    base = args.port if args.port is not None else cluster.default_base_port()
    both = args.brokers is None and args.action != "start"  # stop and status: whatever exists
    if args.brokers == cluster.BROKERS or (both and cluster.node_dirs()):
        if args.action == "start":
            nodes = cluster.start(base_port=base, progress=say)
        elif args.action == "stop":
            nodes = cluster.stop()
        else:
            nodes = cluster.status()
        _print_cluster(nodes, args.action)
        if args.brokers == cluster.BROKERS:
            return 0 if (nodes.running or args.action != "status") else 3
        if external is not None and args.action == "stop":
            return 0  # the cluster was what OPVANG_KAFKA_BOOTSTRAP meant
    if external is not None and args.action != "status":
        print(
            f"OPVANG_KAFKA_BOOTSTRAP is set ({external}): the embedded broker is not used, "
            "so there is nothing to start or stop. Unset it to use the embedded broker."
        )
        return 0

    if args.action == "start":
        status = broker.start(port=base, progress=say)
    elif args.action == "stop":
        status = broker.stop()
    else:
        status = broker.status()
    state = "running" if status.running else "stopped"
    pid = f", pid {status.pid}" if status.pid else ""
    where = f"{status.bootstrap}{pid}"
    print(f"kafka {status.kafka_version}: {state} on {where} (state: {status.state_dir})")
    if status.detail:
        print(status.detail)
    running = status.running or (args.brokers is None and cluster.status().running)
    return 0 if (running or args.action != "status") else 3


def _print_cluster(nodes: Any, action: str) -> None:
    """One line for the cluster, one per node (streams.dev.cluster.ClusterStatus)."""
    up = sum(1 for node in nodes.nodes if node.running)
    version = nodes.nodes[0].kafka_version if nodes.nodes else ""
    print(
        f"kafka {version} cluster: {up} of {len(nodes.nodes)} nodes running "
        f"(state: {nodes.state_dir})"
    )
    for node in nodes.nodes:
        pid = f", pid {node.pid}" if node.pid else ""
        print(f"  {node.state_dir.name}: {node.bootstrap}{pid}: {node.detail}")
    if action == "start" and nodes.running:
        print(f"use it with: OPVANG_KAFKA_BOOTSTRAP={nodes.bootstrap} OPVANG_REPLICATION_FACTOR=3")


def _kafka_client_logging() -> None:
    """Warnings and errors of the Kafka client for a command that publishes, in the worker's
    format, without aiokafka's self-healing leader warnings on fresh topics (streams.logging)."""
    from streams.logging import configure_logging

    configure_logging("WARNING")


def cmd_load_locations(args: argparse.Namespace) -> int:
    from streams.cli.publish import load_locations_file, publish
    from streams.topics import ensure_topics

    _kafka_client_logging()
    settings = _settings()
    _ensure_broker()
    records = load_locations_file(Path(args.path) if args.path else None)

    async def run() -> dict[str, int]:
        await ensure_topics(settings)
        return await publish(settings, records)

    counts = asyncio.run(run())
    print(f"published {counts.get('locations', 0)} locations to {settings.topic('locations')}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.cli.publish import Progress, publish, read_scenario, resolve_scenario, summarise
    from streams.topics import ensure_topics

    _kafka_client_logging()
    settings = _settings()
    path = resolve_scenario(args.path)
    records = read_scenario(path)
    _ensure_broker()
    bar = Progress(len(records), f"replay {path.name}")

    async def run() -> dict[str, int]:
        await ensure_topics(settings)
        return await publish(
            settings, records, days_per_second=args.days_per_second, progress=bar.advance
        )

    counts = asyncio.run(run())
    print(summarise(counts, bar.close()))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.cli.demo import run_demo

    _kafka_client_logging()
    return run_demo(scenario=args.scenario, keep=args.keep)


def cmd_route(args: argparse.Namespace) -> int:
    from alerts.simulate import dry_run
    from streams.cli.route import InputError, parse_at, print_json, print_text, read_changes
    from streams.settings import load_dry_run_config

    if not args.dry_run:
        print(
            "opvangwacht route: only --dry-run exists (it shows who would be told what and sends "
            "nothing); run: opvangwacht route --dry-run PATH",
            file=sys.stderr,
        )
        return 2
    try:
        at = parse_at(args.at) if args.at else None
        config_path = Path(args.config) if args.config else _settings().config_path
        config, missing = load_dry_run_config(config_path)
        source = read_changes(args.path, config)
    except InputError as exc:
        print(f"opvangwacht route: {exc}", file=sys.stderr)
        return 2
    notes = []
    if config_path is None:
        notes.append(
            "no alerting config (neither --config nor OPVANG_CONFIG): the built-in defaults have "
            "no receivers, so nobody would be told anything"
        )
    elif not config.receivers:
        notes.append(f"{config_path} has no receivers, so nobody would be told anything")
    elif missing:
        notes.append(
            f"credentials not set here: {', '.join(missing)} (not needed for a dry run; the "
            "worker will not start without them)"
        )
    notes.extend(
        f"skipped {key}: {why} (the worker dead-letters it)" for key, why in source.skipped
    )
    for note in notes:
        print(f"opvangwacht route: note: {note}", file=sys.stderr)
    result = dry_run(source.events, config, at=at, status_url=_settings().status_url)
    (print_json if args.json else print_text)(source, result, sys.stdout, at=at)
    return 0


def cmd_source(args: argparse.Namespace) -> int:
    from streams.web.sources import hash_token, new_token

    if args.stdin:
        token = sys.stdin.readline().strip()
        if not token:
            print("opvangwacht: give the token on standard input", file=sys.stderr)
            return 2
        print(f"token_sha256: {hash_token(token)}")
        return 0
    token = new_token()
    name = args.name or "NAME"
    print(
        f"# Give this token to the source, once, by a safe way; it is not stored anywhere:\n"
        f"#   {token}\n"
        f"# and add this to the sources file (OPVANG_SOURCES), with the locations it reports for:\n"
        f"  - name: {name}\n"
        f"    token_sha256: {hash_token(token)}\n"
        f"    locations: []\n"
        f"    municipalities: []"
    )
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from streams.cli.check import CheckError, check_file, describe

    path = Path(args.file) if args.file else _settings().config_path
    if path is None:
        print(
            "opvangwacht config check: no file given and OPVANG_CONFIG is not set; run: "
            "opvangwacht config check deploy/config/alerting.yml",
            file=sys.stderr,
        )
        return 2
    try:
        checked = check_file(path)
    except CheckError as exc:
        print(f"opvangwacht: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: valid")
    print("\n".join(describe(checked)))
    if checked.missing:
        print(
            f"opvangwacht config check: note: credentials not set here: "
            f"{', '.join(checked.missing)} (the worker will not start without them)",
            file=sys.stderr,
        )
    return 0


def package_version() -> str:
    """The installed package's version (``unknown`` when run from a source tree that is not
    installed)."""
    try:
        return importlib.metadata.version("opvangwacht")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opvangwacht",
        description="Alerts on Dutch asylum reception capacity, from Kafka reports.",
    )
    parser.add_argument("--version", action="version", version=f"opvangwacht {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    from streams.settings import VARIABLES

    worker = sub.add_parser(
        "worker",
        help="run the stream worker (Faust)",
        description="Run the stream worker. It is configured by these environment variables:",
        epilog="\n".join(f"  {name:<26} {text}" for name, text in VARIABLES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    worker.set_defaults(func=cmd_worker)

    kafka = sub.add_parser(
        "kafka",
        help="the embedded Kafka broker (one node; --brokers 3: a local three-node cluster)",
    )
    kafka.add_argument("action", choices=["start", "stop", "status"])
    kafka.add_argument(
        "--brokers",
        type=int,
        help="3: the local cluster of three KRaft nodes (default: the single-node broker; "
        "stop and status without it cover both)",
    )
    kafka.add_argument(
        "--port",
        type=int,
        help="first broker port (default: OPVANG_KAFKA_PORT, else 9092); a cluster uses the "
        "five ports after it too",
    )
    kafka.set_defaults(func=cmd_kafka)

    load = sub.add_parser("load-locations", help="publish reference locations")
    load.add_argument("path", nargs="?", help="JSON file (default: the bundled locations)")
    load.set_defaults(func=cmd_load_locations)

    replay = sub.add_parser("replay", help="publish a scenario (JSONL or CSV) in date order")
    replay.add_argument("path", help="a file, or a bundled scenario name such as ter-apel-demo")
    replay.add_argument(
        "--days-per-second",
        type=float,
        default=0.0,
        help="pace the replay by report date (default 0: as fast as possible)",
    )
    replay.set_defaults(func=cmd_replay)

    demo = sub.add_parser("demo", help="broker, worker, webhook sink and a scenario, end to end")
    demo.add_argument("--scenario", default="ter-apel-demo")
    demo.add_argument("--keep", action="store_true", help="leave the worker running at the end")
    demo.set_defaults(func=cmd_demo)

    route = sub.add_parser(
        "route",
        help="who would be told what about alert changes (--dry-run: nothing is sent)",
        description=(
            "Route alert changes through the alerting config as the worker would, and show for "
            "each receiver what it would get (the exact SMS text, webhook CloudEvent, PagerDuty "
            "event) or why not (silenced, inhibited, quiet hours, SMS budget). Sends nothing and "
            "never contacts Kafka."
        ),
    )
    route.add_argument(
        "path",
        help="an alert file (JSON Lines of alert events as on opvang.alerts, or a JSON array), "
        "or a scenario (a file replay takes, or a bundled name such as ter-apel-2022-08)",
    )
    route.add_argument(
        "--dry-run", action="store_true", help="required: show, do not send (the only mode)"
    )
    route.add_argument(
        "--config", help="alerting YAML (default: OPVANG_CONFIG, else the built-in defaults)"
    )
    route.add_argument(
        "--at",
        help="judge every change at this time (ISO 8601 with offset, e.g. "
        "2026-11-27T23:30:00+01:00) instead of at its event time (09:00 of its report date)",
    )
    route.add_argument("--json", action="store_true", help="JSON Lines: one per change, a summary")
    route.set_defaults(func=cmd_route)

    source = sub.add_parser(
        "source",
        help="tokens for the sources that send reports over HTTP (/api/reports, /melden)",
        description="Make a new source token and print its sha256 for the sources file "
        "(OPVANG_SOURCES); --stdin: hash a token read from standard input instead.",
    )
    source.add_argument("action", choices=["token"])
    source.add_argument("--name", help="the source's name in the printed entry")
    source.add_argument("--stdin", action="store_true", help="hash the token on standard input")
    source.set_defaults(func=cmd_source)
    config = sub.add_parser("config", help="check the alerting file (config check [FILE])")
    config_sub = config.add_subparsers(dest="action", required=True)
    check = config_sub.add_parser(
        "check",
        help="validate the alerting YAML as the worker reads it and print its route tree",
        description=(
            "Validate the alerting YAML as the worker reads it and print its route tree (as "
            "amtool config routes does). Exit 0 when valid, 2 with one line (file:line: what is "
            "wrong) when not. Contacts nothing."
        ),
    )
    check.add_argument("file", nargs="?", help="the alerting YAML (default: OPVANG_CONFIG)")
    check.set_defaults(func=cmd_config)
    return parser


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says that no broker could be reached (not an everyday traceback)."""
    from aiokafka.errors import KafkaConnectionError

    return isinstance(exc, KafkaConnectionError)


def _broker_address() -> str:
    try:
        return _settings().broker_address
    except ConfigError:
        return "the configured address"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"opvangwacht: configuration error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"opvangwacht: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        from streams.cli.publish import InputFileError

        if not isinstance(exc, InputFileError):
            raise
        print(f"opvangwacht: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from streams.dev.kafka_install import BrokerError

        if isinstance(exc, BrokerError):
            print(f"opvangwacht: {exc}", file=sys.stderr)
            return 1
        if _unreachable(exc):
            print(
                f"opvangwacht: no Kafka broker answers at {_broker_address()}: start one with "
                "`opvangwacht kafka start`, or set OPVANG_KAFKA_BOOTSTRAP to one that runs",
                file=sys.stderr,
            )
            return 1
        raise
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The Kafka distribution for the development broker: a Java 17 or newer, the broker's jars
(resolved once by Maven with the pom in `streams/kafka/`, or taken from `$KAFKA_HOME/libs`), their
version, and the log4j configuration. `streams/dev/broker.py` runs them.

Imports the standard library only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path

__all__ = [
    "KAFKA_VERSION",
    "LOG4J_FILE",
    "MAVEN_TIMEOUT",
    "MIN_JAVA",
    "BrokerError",
    "Progress",
    "find_java",
    "install_log4j_config",
    "java_major",
    "kafka_libs",
    "kafka_version",
    "last_lines",
    "version_in",
]


class BrokerError(Exception):
    """The embedded broker could not be started, stopped or reached.

    The message always says what to do about it.
    """


# Must equal <kafka.version> in streams/kafka/pom.xml (a unit test checks it).
KAFKA_VERSION = "4.3.1"
MIN_JAVA = 17
MAVEN_TIMEOUT = 900.0  # first resolution downloads ~44 MB; not counted in start()'s timeout
LOG4J_FILE = "log4j2.xml"
Progress = Callable[[str], None]


def find_java() -> str:
    candidates: list[str] = []
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidates.append(str(Path(java_home) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    found: list[str] = []
    for java in candidates:
        if not os.access(java, os.X_OK):
            continue
        major = java_major(java)
        if major is not None and major >= MIN_JAVA:
            return java
        found.append(f"{java} is Java {major if major is not None else '?'}")
    seen = f" ({'; '.join(found)})" if found else ""
    raise BrokerError(
        f"Java {MIN_JAVA} or newer not found{seen}: install openjdk-17-jre-headless "
        "(Debian/Ubuntu) or point JAVA_HOME at a JDK 17+"
    )


def java_major(java: str) -> int | None:
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" means Java 8


def kafka_libs(sd: Path, say: Progress) -> Path:
    home = os.environ.get("KAFKA_HOME")
    if home:
        libs = Path(home).expanduser() / "libs"
        if version_in(libs) is None:
            raise BrokerError(
                f"KAFKA_HOME={home} has no libs/kafka_2.13-*.jar: point it at an unpacked "
                "Apache Kafka distribution, or unset it to let Maven fetch the jars"
            )
        return libs
    target = sd / "lib" / f"kafka-{KAFKA_VERSION}"
    if target.is_dir():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven not found: install maven (apt-get install maven), or set KAFKA_HOME to an "
            f"unpacked Apache Kafka {KAFKA_VERSION} distribution"
        )
    say(f"resolving Kafka {KAFKA_VERSION} with Maven (first run only)…")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    pom = resources.files("streams") / "kafka" / "pom.xml"
    with resources.as_file(pom) as pom_path:
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom_path),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ]
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise BrokerError(
                f"Maven did not finish within {MAVEN_TIMEOUT:g} s: check access to Maven "
                "Central (or a mirror in ~/.m2/settings.xml), or set KAFKA_HOME"
            ) from exc
    if done.returncode != 0 or version_in(partial) is None:
        shutil.rmtree(partial, ignore_errors=True)
        output = last_lines((done.stdout + done.stderr).splitlines())
        raise BrokerError(
            f"Maven could not resolve Kafka {KAFKA_VERSION} (exit {done.returncode}): check "
            f"access to Maven Central, or set KAFKA_HOME.\n{output}"
        )
    partial.rename(target)  # atomic: a half-copied directory is never taken for a complete one
    return target


def install_log4j_config(sd: Path) -> None:
    config = resources.files("streams") / "kafka" / LOG4J_FILE
    (sd / LOG4J_FILE).write_text(config.read_text(encoding="utf-8"), encoding="utf-8")


def kafka_version() -> str:
    home = os.environ.get("KAFKA_HOME")
    if home:
        return version_in(Path(home).expanduser() / "libs") or KAFKA_VERSION
    return KAFKA_VERSION


def version_in(libs: Path) -> str | None:
    """The Kafka version of a libs directory, from the name of its kafka_2.13-<v>.jar."""
    if not libs.is_dir():
        return None
    for jar in sorted(libs.glob("kafka_*.jar")):
        match = re.fullmatch(r"kafka_\d+\.\d+-(\d+\.\d+\.\d+[\w.-]*?)\.jar", jar.name)
        if match and not match.group(1).endswith(("-test", "-sources", "-javadoc")):
            return match.group(1)
    return None


def last_lines(lines: list[str], count: int = 20) -> str:
    return "\n".join(lines[-count:])

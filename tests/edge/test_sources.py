"""The sources that may send reports over HTTP (streams.web.sources): the file, hashed tokens,
scopes, and the CLI helper that makes a token."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from alerts.errors import ConfigError
from streams.cli.main import main
from streams.web.sources import TOKEN_PREFIX, Source, Sources, hash_token, load_sources, new_token

TOKEN = "opvm_test-token-ter-apel"


def entry(name: str = "coa-ter-apel", token: str = TOKEN, **scope: object) -> dict[str, object]:
    return {
        "name": name,
        "token_sha256": hash_token(token),
        **(scope or {"locations": ["ter-apel"]}),
    }


def test_a_token_is_found_by_its_hash_and_only_the_hash_is_kept() -> None:
    sources = Sources.from_mapping(
        {"sources": [entry(), entry("budel", "other", locations=["budel"])]}
    )
    found = sources.find(TOKEN)
    assert found is not None and found.name == "coa-ter-apel"
    assert found.token_sha256 == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert TOKEN not in repr(sources)
    assert sources.find(TOKEN + "x") is None and sources.find("") is None
    assert sources.find("\udcff\ud800") is None  # a header that was not UTF-8


@pytest.mark.parametrize(
    ("source", "location_id", "municipality", "allowed"),
    [
        (Source("a", "0" * 64, frozenset({"ter-apel"})), "ter-apel", "GM1950", True),
        (Source("a", "0" * 64, frozenset({"ter-apel"})), "budel", "GM1706", False),
        (Source("a", "0" * 64, municipalities=frozenset({"GM1950"})), "ter-apel", "GM1950", True),
        (Source("a", "0" * 64, municipalities=frozenset({"GM1950"})), "budel", "GM1706", False),
        (Source("a", "0" * 64, municipalities=frozenset({"GM1950"})), "nieuw", None, False),
    ],
)
def test_scope_by_location_or_municipality(
    source: Source, location_id: str, municipality: str | None, allowed: bool
) -> None:
    assert source.may_report(location_id, municipality) is allowed


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"sources": [{**entry(), "token": "plain"}]}, "unknown key 'token'"),
        ({"sources": [{**entry(), "token_sha256": "abc"}]}, "opvangwacht source token"),
        ({"sources": [{"name": "x", "token_sha256": hash_token("t")}]}, "give 'locations'"),
        ({"sources": [{**entry(), "locations": ["Ter Apel"]}]}, "'locations' must be a list"),
        ({"sources": [{**entry(), "municipalities": ["1950"]}]}, "'municipalities'"),
        ({"sources": [entry(), entry()]}, "same name"),
        ({"sources": [entry("a"), entry("b")]}, "same token_sha256"),
        ({"sources": "x"}, "must be a list"),
        ({"bronnen": []}, "one key, 'sources:'"),
        ({"sources": [5]}, "source 1: must be a mapping"),
    ],
)
def test_a_bad_sources_file_is_one_clear_line(raw: object, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Sources.from_mapping(raw)
    assert says in str(caught.value)


def test_load_sources_names_the_file(tmp_path: Path) -> None:
    assert len(load_sources(None)) == 0
    with pytest.raises(ConfigError, match="no such file"):
        load_sources(tmp_path / "missing.yml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_sources(tmp_path)
    bad = tmp_path / "bad.yml"
    bad.write_text("sources: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{bad}: not valid YAML"):
        load_sources(bad)
    good = tmp_path / "sources.yml"
    good.write_text(
        f"sources:\n  - name: coa\n    token_sha256: {hash_token(TOKEN)}\n"
        "    municipalities: [GM1950]\n",
        encoding="utf-8",
    )
    assert load_sources(good).find(TOKEN) == Source(
        "coa", hash_token(TOKEN), municipalities=frozenset({"GM1950"})
    )


def test_new_tokens_are_long_random_and_recognisable() -> None:
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(t.startswith(TOKEN_PREFIX) and len(t) >= 40 for t in tokens)


def test_the_cli_prints_a_token_and_the_entry_that_accepts_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["source", "token", "--name", "coa-ter-apel"]) == 0
    printed = capsys.readouterr().out
    token = next(w for w in printed.split() if w.startswith(TOKEN_PREFIX))
    entry_lines = [line for line in printed.splitlines() if not line.startswith("#")]
    file = tmp_path / "sources.yml"
    text = "sources:\n" + "\n".join(entry_lines).replace("locations: []", "locations: [ter-apel]")
    file.write_text(text, encoding="utf-8")
    found = load_sources(file).find(token)
    assert found is not None and found.name == "coa-ter-apel"
    assert token not in file.read_text(encoding="utf-8")

"""The emulated RSA keys' primes are searched once per machine and read back unchanged."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from stockade.emulators import rsa_cache, tls

SEED = b"stockade-offline-tls/stockade/test/tls:index/privateKey:PrivateKey/cache-test"
BITS = 1024  # the smallest the emulator accepts: a real search, kept short


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STOCKADE_CACHE_DIR", str(tmp_path))
    tls._rsa_key.cache_clear()
    yield tmp_path / "tls-rsa"
    tls._rsa_key.cache_clear()


def _searched() -> tuple[int, int]:
    return tls._search_primes(SEED, BITS, 65537)


def _no_search() -> tuple[int, int]:
    raise AssertionError("searched again although the cache holds the primes")


def test_second_process_reads_the_primes_instead_of_searching(cache: Path) -> None:
    first = rsa_cache.cached_primes(SEED, BITS, 65537, _searched)
    assert first == _searched()
    entries = list(cache.glob("*.json"))
    assert len(entries) == 1
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert not list(cache.glob(".tmp-*")), "no temporary file is left behind"
    assert rsa_cache.cached_primes(SEED, BITS, 65537, _no_search) == first


def test_key_from_the_cache_is_the_key_the_search_gives(cache: Path) -> None:
    searched = tls._rsa_key(SEED, BITS).private_numbers()
    tls._rsa_key.cache_clear()
    read_back = tls._rsa_key(SEED, BITS).private_numbers()
    assert read_back == searched
    assert searched.public_numbers.n.bit_length() == BITS


@pytest.mark.parametrize(
    "spoil",
    [
        lambda e: {**e, "value": {**e["value"], "p": e["value"]["q"]}},  # digest no longer matches
        lambda e: {**e, "digest": "0" * 64},
        lambda e: {"value": e["value"]},
        lambda e: "not an entry",
    ],
)
def test_a_bad_entry_is_searched_again_and_replaced(cache: Path, spoil: object) -> None:
    good = rsa_cache.cached_primes(SEED, BITS, 65537, _searched)
    (entry,) = cache.glob("*.json")
    entry.write_text(json.dumps(spoil(json.loads(entry.read_text()))))  # type: ignore[operator]
    assert rsa_cache.cached_primes(SEED, BITS, 65537, _searched) == good
    assert rsa_cache.cached_primes(SEED, BITS, 65537, _no_search) == good


def test_an_intact_entry_whose_primes_make_no_such_key_is_searched_again(cache: Path) -> None:
    good = rsa_cache.cached_primes(SEED, BITS, 65537, _searched)
    key = rsa_cache.entry_key(SEED, BITS, 65537)
    rsa_cache.CACHE.write(key, {"p": f"{good[1]:x}", "q": f"{good[1]:x}"})  # p == q, digest valid
    assert len(list(cache.glob("*.json"))) == 1, "the crafted entry replaced the good one"
    assert rsa_cache.cached_primes(SEED, BITS, 65537, _searched) == good
    assert rsa_cache.cached_primes(SEED, BITS, 65537, _no_search) == good


def test_entries_differ_by_seed_and_size(cache: Path) -> None:
    rsa_cache.cached_primes(SEED, BITS, 65537, _searched)
    other = SEED + b"-other"
    found = rsa_cache.cached_primes(other, BITS, 65537, lambda: tls._search_primes(other, BITS, 65537))
    assert found != _searched()
    assert len(list(cache.glob("*.json"))) == 2


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("STOCKADE_CACHE_DIR", str(blocker))
    assert rsa_cache.cached_primes(SEED, BITS, 65537, _searched) == _searched()

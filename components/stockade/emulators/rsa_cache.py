"""The emulated RSA keys' primes, searched once per machine and read back after.

A seeded RSA key is assembled from primes found by a pure-Python search (the
cryptography library only generates RSA keys from the OS's randomness), which
takes seconds for 4096 bits. The search is deterministic, so its result is
stored once per machine (stockade.emulators.disk_cache, under `tls-rsa/`) and
every later process (synth, diff workers, policy, tests) reads it back instead
of searching again. An entry whose primes do not make a key of the asked size is
ignored and searched again.
"""

from __future__ import annotations

from collections.abc import Callable

from stockade.emulators.disk_cache import DiskCache

# Part of every key: bump it when the prime search changes, so old entries are never read.
SEARCH_VERSION = "1"
CACHE = DiskCache("tls-rsa")


def _primes(entry: object, bits: int, exponent: int) -> tuple[int, int] | None:
    try:
        p, q = int(entry["p"], 16), int(entry["q"], 16)  # type: ignore[index]
    except (ValueError, KeyError, TypeError):
        return None
    # Cheap checks that the primes still make the key asked for; a full primality test
    # would cost what the cache saves, and the entry's digest already ties them to this seed.
    if p == q or (p * q).bit_length() != bits or (p - 1) % exponent == 0 or (q - 1) % exponent == 0:
        return None
    return p, q


def entry_key(seed: bytes, bits: int, exponent: int) -> str:
    return f"{SEARCH_VERSION}/{bits}/{exponent}/{seed.hex()}"


def cached_primes(
    seed: bytes, bits: int, exponent: int, search: Callable[[], tuple[int, int]]
) -> tuple[int, int]:
    """The primes `search()` finds for `seed`, from the cache when an entry checks out."""
    key = entry_key(seed, bits, exponent)
    found = _primes(CACHE.read(key), bits, exponent)
    if found is not None:
        return found
    p, q = search()
    CACHE.write(key, {"p": f"{p:x}", "q": f"{q:x}"})
    return p, q

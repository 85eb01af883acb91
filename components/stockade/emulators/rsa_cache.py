"""On-disk cache of the emulated RSA keys' primes, keyed by their seed.

A seeded RSA key is assembled from primes found by a pure-Python search (the
cryptography library only generates RSA keys from the OS's randomness), which
takes seconds for 4096 bits. The search is deterministic, so its result is
stored once per machine and every later process (synth, diff workers, policy,
tests) reads it back instead of searching again.

What is stored is not a secret: an emulated key is derived from the stack and
resource names alone, never used outside the offline engine. The cache still
lives in a directory only its owner can read and write, each entry is written
to a temporary file and renamed into place (readers never see half an entry),
and an entry that does not check out (unreadable, wrong digest, primes that
do not make a key of the asked size) is ignored and searched again.

Location: `$STOCKADE_CACHE_DIR`, else `$XDG_CACHE_HOME/stockade`, else
`~/.cache/stockade`; entries under `tls-rsa/`. Deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

# Part of every key: bump it when the prime search changes, so old entries are never read.
SEARCH_VERSION = "1"


def cache_dir() -> Path:
    explicit = os.environ.get("STOCKADE_CACHE_DIR")
    if explicit:
        return Path(explicit) / "tls-rsa"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stockade" / "tls-rsa"


def _entry_name(seed: bytes, bits: int) -> str:
    return hashlib.sha256(f"{SEARCH_VERSION}/{bits}/".encode() + seed).hexdigest() + ".json"


def _digest(seed: bytes, bits: int, p: int, q: int) -> str:
    return hashlib.sha256(f"{SEARCH_VERSION}/{bits}/{p:x}/{q:x}/".encode() + seed).hexdigest()


def _read(path: Path, seed: bytes, bits: int, exponent: int) -> tuple[int, int] | None:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        p, q = int(entry["p"], 16), int(entry["q"], 16)
        digest = entry["digest"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if digest != _digest(seed, bits, p, q):
        return None
    # Cheap checks that the primes still make the key asked for; a full primality test
    # would cost what the cache saves, and the digest already ties them to this seed.
    if p == q or (p * q).bit_length() != bits or (p - 1) % exponent == 0 or (q - 1) % exponent == 0:
        return None
    return p, q


def _write(directory: Path, path: Path, seed: bytes, bits: int, p: int, q: int) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        entry = json.dumps({"p": f"{p:x}", "q": f"{q:x}", "digest": _digest(seed, bits, p, q)})
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(entry)
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        return  # a cache that cannot be written only costs time


def cached_primes(
    seed: bytes, bits: int, exponent: int, search: Callable[[], tuple[int, int]]
) -> tuple[int, int]:
    """The primes `search()` finds for `seed`, from the cache when an entry checks out."""
    directory = cache_dir()
    path = directory / _entry_name(seed, bits)
    found = _read(path, seed, bits, exponent)
    if found is not None:
        return found
    p, q = search()
    _write(directory, path, seed, bits, p, q)
    return p, q

"""Build-time helper: download one `ant` CLI release and install it only if its sha256 matches.

Used by images/session/Dockerfile and images/poller/Dockerfile (standard library only, so the
build stage needs no curl). There is no way to skip the check: an empty or malformed
checksum is an error, and so is a mismatch. Only the `ant` binary is taken from the archive;
nothing else in it is ever written to disk.

    python3 fetch_ant.py --version 1.39.1 --arch amd64 \
        --sha256-amd64 <64 hex> --sha256-arm64 <64 hex or empty> --dest /out/ant
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import re
import sys
import tarfile
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

# The vendor's documented release location (docs/vendor-interface.md §1.4).
RELEASE_BASE = "https://github.com/anthropics/anthropic-cli/releases/download"
ARCHES = ("amd64", "arm64")
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class FetchError(Exception):
    pass


def release_url(base: str, version: str, arch: str) -> str:
    return f"{base}/v{version}/ant_{version}_linux_{arch}.tar.gz"


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    loopback = (parts.hostname or "").startswith("127.") or parts.hostname == "localhost"
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise FetchError(f"refusing to download over {parts.scheme or 'no scheme'}: {url}")


def download(url: str) -> bytes:
    _check_url(url)
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - scheme checked above
        body: bytes = response.read(MAX_ARCHIVE_BYTES + 1)
    if len(body) > MAX_ARCHIVE_BYTES:
        raise FetchError(f"{url} is larger than {MAX_ARCHIVE_BYTES} bytes")
    return body


def verify(archive: bytes, expected: str, url: str) -> None:
    actual = hashlib.sha256(archive).hexdigest()
    if not hmac.compare_digest(actual, expected):
        raise FetchError(f"sha256 mismatch for {url}: expected {expected}, got {actual}")


def extract_ant(archive: bytes) -> bytes:
    """The one regular file named `ant` in the archive (at its root or in one top directory)."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.isfile() and Path(m.name).name == "ant" and m.name.count("/") <= 1
        ]
        if len(members) != 1:
            raise FetchError(f"expected exactly one 'ant' binary in the archive, found {len(members)}")
        extracted = tar.extractfile(members[0])
        if extracted is None:
            raise FetchError("could not read 'ant' from the archive")
        return extracted.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--arch", required=True, help="Docker TARGETARCH: amd64 or arm64")
    parser.add_argument("--sha256-amd64", default="")
    parser.add_argument("--sha256-arm64", default="")
    parser.add_argument("--dest", required=True, type=Path)
    parser.add_argument("--base-url", default=RELEASE_BASE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if not VERSION.fullmatch(args.version):
            raise FetchError(f"ANT_VERSION {args.version!r} is not X.Y.Z")
        if args.arch not in ARCHES:
            raise FetchError(
                f"TARGETARCH {args.arch!r} is not one of {', '.join(ARCHES)} (build with BuildKit)"
            )
        expected = (args.sha256_amd64 if args.arch == "amd64" else args.sha256_arm64).strip().lower()
        if not SHA256.fullmatch(expected):
            raise FetchError(
                f"no valid sha256 for ant {args.version} linux/{args.arch}: pass "
                f"--build-arg ANT_SHA256_{args.arch.upper()}=<64 hex digits> (see images/README.md)"
            )
        url = release_url(args.base_url.rstrip("/"), args.version, args.arch)
        archive = download(url)
        verify(archive, expected, url)
        binary = extract_ant(archive)
    except (FetchError, OSError, tarfile.TarError) as exc:
        print(f"fetch_ant: {exc}", file=sys.stderr)
        return 1
    args.dest.parent.mkdir(parents=True, exist_ok=True)
    args.dest.write_bytes(binary)
    args.dest.chmod(0o755)
    print(f"fetch_ant: installed ant {args.version} linux/{args.arch} (sha256 verified) at {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What the pulumi-tls emulators give, read from the disk cache when the same inputs came before.

Emulating a key or a certificate needs the `cryptography` library, whose import alone is a
tenth of a small stack's synth, and the signing on top. The outputs are a pure function of the
resource's type, name and inputs, the stack's offline context, the emulator's source and the
library's version, so they are cached on disk (stockade.emulators.disk_cache, under
`tls-outputs/`) under a key made of exactly those. A later synth of the same stack reads them
back and never imports `cryptography`; any change to the inputs or to the emulator's code is a
new key, so a stale entry is never read. Errors are never cached: bad inputs are emulated, and
refused, every time.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from stockade.emulators.disk_cache import DiskCache
from stockade.engine.context import OfflineContext
from stockade.engine.redact import SECRET_SIG, SECRET_SIG_KEY

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"
TLS_TYPES = frozenset({PRIVATE_KEY, SELF_SIGNED_CERT, CERT_REQUEST, LOCALLY_SIGNED_CERT})

CACHE = DiskCache("tls-outputs")
_FORMAT = "1"
_EMULATOR_SOURCES = ("tls.py", "tls_outputs.py", "rsa_cache.py")


@functools.cache
def _code_version() -> str:
    """The emulator's own source and the `cryptography` release that builds and signs the PEMs."""
    from cryptography import __version__ as cryptography_version

    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in _EMULATOR_SOURCES:
        digest.update((here / name).read_bytes())
    return f"{digest.hexdigest()}/{cryptography_version}/{SECRET_SIG_KEY}={SECRET_SIG}"


def _key(type_token: str, name: str, inputs: dict[str, Any], ctx: OfflineContext) -> str | None:
    try:
        code = _code_version()
        context = [ctx.project, ctx.stack, ctx.region, ctx.account_id]
        return json.dumps([_FORMAT, code, type_token, name, context, inputs], sort_keys=True)
    except (OSError, TypeError, ValueError):
        return None  # no readable source, or inputs that are not plain data: compute, don't cache


def emulated_tls(type_token: str, name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    """The outputs of the pulumi-tls resource `type_token` (one of TLS_TYPES)."""
    key = _key(type_token, name, inputs, ctx)
    if key is not None:
        cached = CACHE.read(key)
        if isinstance(cached, dict):
            return cached
    from stockade.emulators.tls import EMULATORS

    outputs = EMULATORS[type_token](name, inputs, ctx)
    if key is not None:
        CACHE.write(key, outputs)
    return outputs

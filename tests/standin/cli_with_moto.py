"""Run the real `stockade` CLI in this process with STS answered by in-process moto.

For tests that must signal a real rollout process (Ctrl-C): the rollout makes its STS
calls in its own process, so moto inside that process is enough, and no AWS endpoint,
server or network is involved. Workers and the stand-in CLI never call STS.
"""

from __future__ import annotations

import sys

from moto import mock_aws

from stockade.cli.app import main

if __name__ == "__main__":
    sys.argv[0] = "stockade"
    with mock_aws():
        main()

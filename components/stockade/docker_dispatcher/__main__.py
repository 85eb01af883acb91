"""`python3 -m stockade.docker_dispatcher`: the on-work handler (see client.py)."""

from stockade.docker_dispatcher.client import main

if __name__ == "__main__":
    raise SystemExit(main())

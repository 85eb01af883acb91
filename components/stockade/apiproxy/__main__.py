"""`python3 -m stockade.apiproxy`: the per-session API proxy (what /usr/local/bin/stockade-api-proxy runs)."""

from stockade.apiproxy.server import main

if __name__ == "__main__":
    raise SystemExit(main())

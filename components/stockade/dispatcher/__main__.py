"""`python3 -m stockade.dispatcher`: the `--on-work` handler (what /usr/local/bin/stockade-dispatch runs)."""

from stockade.dispatcher.dispatch import main

if __name__ == "__main__":
    raise SystemExit(main())

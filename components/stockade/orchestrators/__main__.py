"""`python -m stockade.orchestrators --provider daytona|modal` (the orchestrator image's entry point)."""

from stockade.orchestrators.main import main

if __name__ == "__main__":
    raise SystemExit(main())

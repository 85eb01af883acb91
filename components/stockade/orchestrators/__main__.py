"""`python -m stockade.orchestrators --provider daytona|modal`."""

from stockade.orchestrators.main import main

raise SystemExit(main())

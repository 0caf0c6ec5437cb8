"""``python -m vcfleet``."""

from vcfleet.cli import main

raise SystemExit(main())

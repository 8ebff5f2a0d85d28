"""``python -m serlib`` runs the command line."""

from .cli import main

raise SystemExit(main())

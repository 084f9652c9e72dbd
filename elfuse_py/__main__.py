"""`python -m elfuse_py` runs the CLI."""
from .cli import main

raise SystemExit(main())

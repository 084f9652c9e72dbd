"""`python -m elfuse_py` runs the CLI."""
from elfuse_py.cli import main

raise SystemExit(main())

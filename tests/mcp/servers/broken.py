"""An MCP "server" that fails at startup, to test the error message."""

import sys

sys.stderr.write("broken.py: cannot open the database at /nowhere/db.sqlite\n")
sys.exit(3)

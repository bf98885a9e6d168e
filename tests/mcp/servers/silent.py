"""A process that never speaks MCP: the handshake must time out, not hang."""

import time

time.sleep(60)

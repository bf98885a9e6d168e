"""A process that never speaks MCP: the handshake must time out, not hang.

It reads (and ignores) what the client sends, so it exits as soon as its stdin closes.
"""

import sys

for _line in sys.stdin:
    pass

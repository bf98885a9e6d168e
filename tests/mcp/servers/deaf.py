"""A process that never answers `initialize`, ignores SIGTERM and never reads its stdin.

Closing its stdin does not end it; only SIGKILL does. The worst case for a client's cleanup grace
periods (issue 11, item 4).
"""

import signal
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    time.sleep(3600)

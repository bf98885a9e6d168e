"""Child process: serve the simulator with JSON options (a file named by argv[1]) on a port (argv[2]) until SIGTERM.

The benchmarks run the server in its own process so that it does not share (and slow) the client's
event loop; on 2 cores that is also how a real deployment looks.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from pathlib import Path

    # Options come in a file: a 1 MB reply does not fit on a command line.
    options = json.loads(Path(sys.argv[1]).read_text())
    port = int(sys.argv[2])
    from agentickit.simulator import serve

    serve(port=port, announce=None, **options)


if __name__ == "__main__":
    main()

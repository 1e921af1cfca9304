"""``python -m bench``: see :mod:`bench.sweep.cli`."""

import sys

from bench.sweep.cli import main

if __name__ == "__main__":
    sys.exit(main())

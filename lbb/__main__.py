"""``python -m lbb COMMAND``: the ``lbb`` console script (:mod:`lbb.main`)."""

import sys

from lbb.main import main

if __name__ == "__main__":
    sys.exit(main())

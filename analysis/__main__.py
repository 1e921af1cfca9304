"""``python -m analysis RUN_DIR ...``: rebuild the report (:mod:`lbb.commands.report`, ``lbb report``)."""

import sys

from lbb.commands.report import main

if __name__ == "__main__":
    sys.exit(main())

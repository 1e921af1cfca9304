"""``python -m bench``: the sweep alone (:mod:`lbb.commands.bench`; ``lbb bench`` adds the report)."""

import sys

from lbb.commands.bench import sweep_main

if __name__ == "__main__":
    sys.exit(sweep_main())

"""``python -m bench.headline``: the headline alone (:mod:`lbb.commands.headline`, ``lbb headline``);
the sweep's headline pass and the GPU check run it as a child."""

import sys

if __name__ == "__main__":
    from lbb.commands.headline import main

    sys.exit(main())

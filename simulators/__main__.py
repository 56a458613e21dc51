"""``python -m simulators`` = ``dronekit-plzen sim``."""

from __future__ import annotations

import sys

from dronekit_plzen.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["sim", *sys.argv[1:]]))

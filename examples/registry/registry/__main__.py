"""``python -m registry``: see :mod:`registry.cli`."""

from __future__ import annotations

import os
import sys

from registry.cli import main

if __name__ == "__main__":
    # Everything the commands and the workers they start write (the database, git
    # checkouts, the broker, logs) is for this user only, whatever the shell's umask.
    os.umask(0o077)
    sys.exit(main())

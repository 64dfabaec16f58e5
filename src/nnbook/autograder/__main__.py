"""``python -m nnbook.autograder exNN``: the same as the ``nnbook-autograde`` command."""

import sys

from .autograde import main

if __name__ == "__main__":  # importing this module (a walk of the package) must not run the command
    sys.exit(main())

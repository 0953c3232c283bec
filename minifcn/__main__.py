"""``python -m minifcn …``: the same commands as the ``minifcn`` console script."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m optrace``."""

from optrace.cli import main

if __name__ == "__main__":
    main()

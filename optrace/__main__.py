"""``python -m optrace``."""

from optrace.cli import main

main()

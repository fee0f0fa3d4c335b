"""optrace: race PyTorch optimizers on a test function and animate the race.

The data flows config -> function and optimizers -> race -> traces -> scene ->
writers; :mod:`optrace.cli` sits on top. Import the modules themselves
(``optrace.race``, ``optrace.writers``, ...): this package root stays light so
that the command line starts fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

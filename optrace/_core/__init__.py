"""The bottom layer: errors, atomic files, shared types and key-path helpers.

Everything here imports only the standard library (and numpy for frame
choice), so every other part of optrace may import it.
"""

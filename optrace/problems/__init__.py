"""The functions racers run on: built-in test functions, expressions, callables, minima."""

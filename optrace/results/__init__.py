"""Race results: Trace and RaceResult (numpy only), the summary, CSV and JSON."""

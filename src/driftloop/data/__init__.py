"""Reading inputs: batch files, the inference log, windows by time or by count."""

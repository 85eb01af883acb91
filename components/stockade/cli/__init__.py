"""The `stockade` command line: thin shells over library functions."""

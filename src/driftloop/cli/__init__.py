"""The command-line interface: a thin click layer over the library."""

"""agentickit's benchmarks (not shipped in the wheel). Run them all with `make bench` or `python -m bench`."""

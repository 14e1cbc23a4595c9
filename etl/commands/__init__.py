"""The `ctmirror features`, `ctmirror glif` and `ctmirror biophys` commands: file readers
around the numeric cores and the simulators."""

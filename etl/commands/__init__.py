"""The `ctmirror features` and `ctmirror glif` commands: file readers around the numeric cores."""

"""ctmirror: a verified offline mirror of the Allen Cell Types Database."""

__version__ = "0.1.0"

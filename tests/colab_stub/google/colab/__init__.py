"""A stand-in for Colab's ``google.colab`` (tests only): see ``tests/colab_stub/README.md``."""

from . import drive, files, output  # noqa: F401  (Colab's package has them as attributes)

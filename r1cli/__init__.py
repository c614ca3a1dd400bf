"""r1: the DeepSeek-R1 recipe from a terminal."""

__version__ = "0.1.0"

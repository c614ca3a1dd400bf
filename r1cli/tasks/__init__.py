"""Built-in verifiable tasks (the tiny world): generators, answer checkers and teachers."""

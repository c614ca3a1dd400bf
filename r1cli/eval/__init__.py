"""Evaluation: benchmark registry, pure metrics (:mod:`r1cli.eval.metrics`), runner and reports.

Kept free of imports so that ``r1 --help`` never loads torch or math-verify through this package.
"""

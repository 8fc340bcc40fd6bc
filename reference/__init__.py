"""Independent plain-Python computations of what the pipeline computes, for the tests and the
benchmarks to check it against. Written from DESIGN.md's contracts and the views' definitions, not
from the pipeline's code, and importing nothing from it, so the two can disagree."""

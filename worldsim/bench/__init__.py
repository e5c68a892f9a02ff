"""`worldsim bench`: the simulator's performance figures, printed as a table and written as JSON. Benchmarks, not
tests: they measure, and results go to experiments/bench/results.md."""

from worldsim.bench.run import GOALS, run_bench

__all__ = ["run_bench", "GOALS"]

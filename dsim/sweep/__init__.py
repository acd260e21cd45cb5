"""Sweeps: a scenario's variants (a grid of overridden paths) times replications, run by any executor,
stored run by run in SQLite, aggregated into means with 95% confidence intervals.

The pieces: ``grid`` (axes, variants, replication seeds), ``spec`` (the sweep file), ``executors``
(this process, a local process pool, Dask), ``store`` (SQLite), ``runner`` (run_sweep), ``report``
(sweep.csv, runs.csv, charts, sweep.html); each run goes through dsim.run (``worker``). The command line,
``dsim sweep``, is dsim/cli/sweep.py. Nothing is imported here, so ``dsim --help`` stays quick.
"""

"""dsim's version (pyproject.toml has the same), in a module of its own so that the parts that report it
(sweep stores, Dask workers, serve's /version) need not import the package and its API."""

__version__ = "0.1.0"

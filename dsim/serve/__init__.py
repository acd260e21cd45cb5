"""``dsim serve``: the Docker Engine API (the subset the docker CLI 28 uses) over a real-time simulation.

``clock`` steps the SimPy environment in real time scaled by ``--speed``; ``engine`` maps API operations
to the components; ``handler`` speaks HTTP; ``progress`` and ``build`` write dockerd's streams; ``server``
ties them together. The command line, ``dsim serve``, is dsim/cli/serve.py.
"""

"""The model's vocabulary: frozen value types for hosts, registries, images, builds, steps and workloads.

The scenario format (``dsim.scenarios``) loads and checks a file and produces these; the world and its
components read only these. Nothing here knows YAML or pydantic (tests/test_architecture.py checks it).
"""

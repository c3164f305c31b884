"""Package discovery (the rest of the metadata is in pyproject.toml).

Every ``synthgen/**/__init__.py`` package is found, so a new subpackage ships without editing a
list; ``conf/`` and ``scenes/`` are mapped into the package as ``synthgen.conf`` and
``synthgen.scene_data`` (see ``[tool.setuptools]`` in pyproject.toml).
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["synthgen", "synthgen.*"]), "synthgen.conf", "synthgen.scene_data"])

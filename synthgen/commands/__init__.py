"""One module per command; ``synthgen.cli`` dispatches to them.

Each command's settings are a class whose constructor is the schema of its
``conf/<command>.yaml`` (built with ``synthgen.registry.build_settings``: unknown and
missing keys are refused there), and a function ``command(cfg)`` that tests call
directly. Nothing but ``synthgen.cli`` (and the package's public API) imports this package.
"""

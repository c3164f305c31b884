"""Scene assets and definitions, shipped inside the package as synthgen.scenes."""

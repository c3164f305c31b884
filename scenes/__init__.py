"""Scene assets and definitions, shipped inside the package as synthgen.scene_data (not to be
confused with synthgen.scene, the code that builds scenes)."""

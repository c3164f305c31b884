"""Default Hydra configs, shipped inside the package as synthgen.conf."""

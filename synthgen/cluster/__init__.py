"""Running shards on a cluster engine (Ray tasks); Hydra launchers cover joblib and SLURM."""

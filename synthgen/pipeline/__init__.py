"""The generation pipeline: what ``synthgen generate`` runs, in the order data flows.

``sequence`` (clips: frame groups, motion timelines) and ``motion`` (object and camera
trajectories) plan what is rendered; ``render_loop`` builds the components from the
settings and runs scene -> render -> labels -> augment -> store for a list of groups;
``workers`` runs that loop on a pool of processes; ``generation`` prepares the store,
runs the loop and writes the exports and manifest (``generate_dataset``); ``shards`` runs
one generation per shard as Ray tasks.
"""

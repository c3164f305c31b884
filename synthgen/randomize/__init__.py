"""Domain randomization: components that vary scenes (see conf/randomize/)."""

"""2D augmentation that keeps every label consistent with the image (see conf/augment/)."""

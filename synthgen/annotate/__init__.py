"""Synthetic data in the human labeling workflow: model-assisted pre-labels (``prelabel``)
and annotator quality on gold tasks with inter-annotator agreement (``qa``)."""

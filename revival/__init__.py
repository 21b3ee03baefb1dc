"""revival: RBM pretraining by contrastive divergence and dropout, runnable and measurable."""
__version__ = "0.1.0"

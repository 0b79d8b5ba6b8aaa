"""telcoseg: telecom customer behavior analytics and segmentation on Spark."""

__version__ = "0.1.0"

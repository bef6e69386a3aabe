"""portfolio-ml cifar."""

"""The portfolio-ml command."""

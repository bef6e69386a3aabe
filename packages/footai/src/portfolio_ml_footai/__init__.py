"""portfolio-ml footai."""

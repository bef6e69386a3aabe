"""portfolio-ml core."""

"""portfolio-ml squat."""

"""The synthetic broadcast renderer: clips with exact ground truth (`render`), its camera
(`camera`), and its frames as training data (`frames`)."""

from .render import CAMERAS, SampleConfig, SampleResult, iter_frames, render_sample

__all__ = ["CAMERAS", "SampleConfig", "SampleResult", "iter_frames", "render_sample"]

"""Following people and the ball over frames (`tracker`, `ball`), and the after-run clean-up of\ntracks (`stitch`)."""

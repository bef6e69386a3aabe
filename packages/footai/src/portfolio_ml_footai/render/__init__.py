"""Drawing, kept apart from the logic: it shows what the pipeline decided and decides nothing.
`annotate` draws on video frames and stills, `tactical` the radar map and heatmaps."""

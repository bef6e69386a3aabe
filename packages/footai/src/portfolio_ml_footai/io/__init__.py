"""Files in and out: tracks.csv (`tracks_csv`), and every output of a run (`outputs`)."""

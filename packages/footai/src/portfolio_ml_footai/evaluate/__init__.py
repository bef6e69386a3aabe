"""How good the pipeline is: a detector on labelled stills (`frames`), a run against ground\ntruth (`tracks`), the training report (`report`)."""

"""phasetrace benchmarks: speed and accuracy on simulated data with known answers (``make bench``)."""

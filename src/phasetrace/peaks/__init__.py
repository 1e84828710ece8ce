"""Peak profiles, peak finding and peak refinement."""

"""Reference phases: structures, simulated reflections, Raman bands, material aliases."""

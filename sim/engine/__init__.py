"""The simulation: a scenario compiled into a run, its entities, the SimPy world, the workflow's steps,
records and invariants."""

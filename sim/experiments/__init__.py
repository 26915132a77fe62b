"""Many runs: the batch executor, replications and sweeps, staffing, validation against theory."""

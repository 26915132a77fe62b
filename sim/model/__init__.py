"""What a user writes: the scenario schema and its loading, distributions and random streams, arrival traces."""

"""The scenarios shipped with convsim, as package data: ``sim.load("default")`` reads ``default.yaml``."""

"""From records to numbers: tables, KPIs, paired comparisons, queueing theory, calibration from a log."""

"""Data through a network: batches, calibration, comparison; NNabla contexts."""

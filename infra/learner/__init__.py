"""The learner's SQLite store (an ordered log of what the model learns from) and model snapshots."""

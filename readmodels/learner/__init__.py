"""The learner's read model: the ordered log of what the recommender learns from, and its snapshots."""

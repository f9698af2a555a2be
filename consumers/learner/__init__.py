"""The `learner` consumer group: interactions, prequential evaluation and the online recommender."""

"""Recommender-system core: datasets, models, training and full-ranking evaluation."""

"""Gymnasium environments in which recommender pipelines evolve."""

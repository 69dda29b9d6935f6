"""Evaluation metrics. Each returns plain numbers plus the protocol used."""

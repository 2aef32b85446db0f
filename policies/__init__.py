"""Evolution policies (RLlib, Stable-Baselines3) and search baselines."""

"""The standalone simulator: the core's physics and policies over simulated time."""

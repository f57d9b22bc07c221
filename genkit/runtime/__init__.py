"""The training runtime shared by every model family: strategy, loop, checkpoints, run folder."""

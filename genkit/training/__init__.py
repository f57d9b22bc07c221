"""What a task's training is made of, whatever its family: random draws that differ per replica (``noise``), loss
scaling for mixed precision (``loss_scaling``), learning-rate schedules (``learning_rate_schedule``), a moving
average of weights (``moving_average``) and the per-epoch sample grid of an image generator (``sample_grid``).

Below :mod:`genkit.tasks` and :mod:`genkit.runtime` (the loop that drives a task): it imports neither.
"""

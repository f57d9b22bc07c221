"""Errors that genkit reports to users as one line (exit status 2), not as a traceback."""


class UserError(Exception):
    """Bad input from the user: a flag, a config field, a data file, a run folder.

    The message is a single line that says what is wrong, where (file, field,
    flag) and which values are allowed. The command line prints it as
    ``genkit: error: <message>`` and exits with status 2.
    """


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class ExportCheckFailed(RuntimeError):
    """An exported file disagrees with the Keras model beyond its format's stated tolerance; nothing is written."""

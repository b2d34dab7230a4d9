"""Why a worker stops running an execution before its end."""


class StaleAttempt(Exception):
    """This worker's attempt was superseded; its results are refused."""


class CancelRequested(Exception):
    """Somebody asked for the execution to stop before its next step."""

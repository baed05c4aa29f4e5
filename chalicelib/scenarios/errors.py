"""Errors the step runner raises to steer the state machine (the compiled Catch and Retry name them).

Lambda reports an unhandled exception by its class name, so the classes carry the dotted
names the ASL expects.
"""

JourneyExited: type[Exception] = type("Parcours.JourneyExited", (Exception,), {
    "__doc__": "The journey is over (exit_when met, converted, stopped, contact gone): end without failing."})
Throttled: type[Exception] = type("Parcours.Throttled", (Exception,), {
    "__doc__": "A downstream service throttled us, failed for a moment or timed out: retry later."})

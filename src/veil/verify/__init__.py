"""``veil verify``: is a copy safe and useful? Leaks, re-identification risk, utility, integrity."""


def default_checks() -> list[list]:
    """The checks ``veil verify`` runs, each built from the VerifyContext, in groups that run side by
    side (the runner's processes): leaks alone (the costliest); risk, utility and integrity (utility
    and integrity share their key fingerprints through the context)."""
    from .integrity import IntegrityCheck
    from .leaks import LeakCheck
    from .risk import RiskCheck
    from .utility import UtilityCheck

    return [[LeakCheck], [RiskCheck, UtilityCheck, IntegrityCheck]]

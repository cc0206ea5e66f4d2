"""``veil verify``: is a copy safe and useful? Leaks, re-identification risk, utility, integrity."""


def default_checks() -> list:
    """The checks ``veil verify`` runs, each built from the VerifyContext: leaks, risk, utility, integrity."""
    from .integrity import IntegrityCheck
    from .leaks import LeakCheck
    from .risk import RiskCheck
    from .utility import UtilityCheck

    return [LeakCheck, RiskCheck, UtilityCheck, IntegrityCheck]

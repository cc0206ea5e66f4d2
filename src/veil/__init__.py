"""veil: safe, useful copies of production extracts.

The library is usable without the CLI::

    import veil
    profile = veil.load_profile("profiles/shop.yaml")
    dataset = veil.open_dataset("samples/shop")
    keys = veil.load_keyring("~/.veil/keyring.json")
    plan = veil.compile_plan(profile, dataset, keys.active_version)
    result = veil.run_plan(plan, dataset, "out/shop", keys)

and on in-memory tables (docs/python.md)::

    safe_df = veil.anonymize(df, profile, keys, table="customers")
    findings = veil.scan(df)
    report = veil.verify(df, safe_df, profile, table="customers")

``veil.verify`` is the function; the checks' modules are imported as ``from veil.verify.risk import ...``.
"""

__version__ = "0.1.0"

from . import verify as _verify_checks  # noqa: E402,F401  (loaded first: the name below is the function)
from .api import anonymize, draft, scan, verify  # noqa: E402
from .api import read_profile as load_profile  # noqa: E402
from .dataset import Dataset, Table  # noqa: E402
from .errors import VeilError  # noqa: E402
from .formats import open_dataset  # noqa: E402
from .keys import Keyring, init_keyring, load_keyring  # noqa: E402
from .pipeline import run_plan  # noqa: E402
from .plan import Plan, compile_plan  # noqa: E402
from .profile import Profile  # noqa: E402

__all__ = [
    "Dataset", "Keyring", "Plan", "Profile", "Table", "VeilError", "__version__", "anonymize", "compile_plan",
    "draft", "init_keyring", "load_keyring", "load_profile", "open_dataset", "run_plan", "scan",
    "verify",
]

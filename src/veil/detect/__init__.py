"""Detection: column-name rules plus Presidio (offline) -> findings, draft profiles, data maps."""

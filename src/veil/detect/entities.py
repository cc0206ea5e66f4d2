"""The entity types veil detects, their class and the operator a draft profile suggests.

``direct`` identifiers name or reach a person on their own; ``quasi``
identifiers do so in combination (Sweeney's zip + birth date + sex);
``none`` is not personal.
"""

from __future__ import annotations

DIRECT = "direct"
QUASI = "quasi"
NONE_CLASS = "none"

# entity -> class
ENTITIES: dict[str, str] = {
    "PERSON_NAME": DIRECT,
    "FIRST_NAME": DIRECT,
    "LAST_NAME": DIRECT,
    "EMAIL": DIRECT,
    "PHONE": DIRECT,
    "STREET_ADDRESS": DIRECT,
    "NATIONAL_ID": DIRECT,
    "IBAN": DIRECT,
    "CREDIT_CARD": DIRECT,
    "IP_ADDRESS": DIRECT,
    "USERNAME": DIRECT,
    "PASSWORD_HASH": DIRECT,
    "FREE_TEXT": DIRECT,
    "CITY": QUASI,
    "POSTCODE": QUASI,
    "COUNTRY": QUASI,
    "DATE_OF_BIRTH": QUASI,
    "URL": QUASI,
    "NONE": NONE_CLASS,
}

# Presidio entity names -> veil's. LOCATION (NER) has no column entity of its own.
FROM_PRESIDIO: dict[str, str] = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP_ADDRESS",
    "URL": "URL",
    "US_SSN": "NATIONAL_ID",
    "UK_NINO": "NATIONAL_ID",
    "DE_TAX_ID": "NATIONAL_ID",
    "ES_NIF": "NATIONAL_ID",
    "IT_FISCAL_CODE": "NATIONAL_ID",
    "PL_PESEL": "NATIONAL_ID",
    "UK_POSTCODE": "POSTCODE",
    "PASSWORD_HASH": "PASSWORD_HASH",
    "PERSON": "PERSON_NAME",
    "LOCATION": "LOCATION",
    "GPE": "LOCATION",
}

# Entities a free-text scrub looks for (a span of text), in veil's names.
TEXT_ENTITIES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "URL", "NATIONAL_ID",
                 "PERSON_NAME", "LOCATION")


def entity_class(entity: str) -> str:
    return ENTITIES.get(entity, NONE_CLASS)

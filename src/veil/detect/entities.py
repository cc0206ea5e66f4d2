"""The entity types veil detects, their class and the operator a draft profile suggests.

``direct`` identifiers name or reach a person on their own; ``quasi``
identifiers do so in combination (Sweeney's zip + birth date + sex);
``sensitive`` attributes are what must not be learnt about a person (GDPR
Art. 9 special categories: health, religion, ethnicity, sexual orientation,
political opinion, union membership, genetic data); ``none`` is not personal.

:data:`PRIVACY_QI` are the quasi-identifiers a draft lists in a table's
``privacy:`` section (a URL is quasi, but no attacker's background knowledge).
"""

from __future__ import annotations

DIRECT = "direct"
QUASI = "quasi"
SENSITIVE = "sensitive"
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
    # payment card data beside the number (PCI DSS: the security code must never be stored)
    "CARD_CVV": DIRECT,
    "CARD_EXPIRY": DIRECT,
    # answers to account-recovery questions (mother's maiden name, first pet, school): secrets
    "SECURITY_ANSWER": DIRECT,
    # photos, signatures, scanned documents (image/PDF bytes), and biometric templates
    "BINARY_PERSONAL": DIRECT,
    "BIOMETRIC": DIRECT,
    "AGE": QUASI,
    "BIRTH_YEAR": QUASI,
    "GENDER": QUASI,
    "REGION": QUASI,
    "OCCUPATION": QUASI,
    "EMPLOYER": QUASI,
    "MARITAL_STATUS": QUASI,
    "SALARY": QUASI,
    "SPECIAL_CATEGORY": SENSITIVE,
    "NONE": NONE_CLASS,
}

# Quasi-identifiers a draft's privacy section lists (what someone may know about a person).
PRIVACY_QI = ("DATE_OF_BIRTH", "BIRTH_YEAR", "AGE", "GENDER", "POSTCODE", "CITY", "REGION", "COUNTRY", "OCCUPATION",
              "EMPLOYER", "MARITAL_STATUS", "SALARY")

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

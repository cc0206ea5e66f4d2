"""Column-name rules: which entity a column's name suggests, in several languages.

A name is folded (accents removed, ß -> ss, camelCase split, lower case) into
tokens: ``"E-Mail Adresse"`` -> ``e mail adresse``, ``customerFirstName`` ->
``customer first name``. Each rule is a regular expression over the tokens
joined by single spaces, anchored on token boundaries, so ``tel`` matches
``tel``, ``tel_no`` and ``kunde_tel`` but not ``hotel``.

A rule has a strength: ``strong`` names are unambiguous (``email``,
``geburtsdatum``); ``weak`` ones need the values or the table to agree
(``name``, ``cp``, ``land``). Negating tokens (``email_verified_at``,
``phone_type``, ``address_id``) outside the matched words turn a match off:
such columns are about the identifier, not the identifier itself.

Some words are personal only in the right place. A ``tail`` rule matches
only as the name's last words (``gender`` but not ``gender_neutral_pricing``;
``age`` but not ``age_rating``). A rule with a ``context`` is confirmed by
the table (veil.detect.scan): ``person`` wants a direct identifier of a
person in the same table (``company`` next to an email is an employer, in a
suppliers table it is not), ``address`` a postcode, city or street
(``state`` next to a ZIP code is a region, in an orders table a status).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

STRONG = 0.85
WEAK = 0.55


@dataclass(frozen=True)
class NameRule:
    entity: str
    pattern: str
    strength: float = STRONG
    tail: bool = False  # matches only as the name's last words
    context: str | None = None  # "person" or "address": the table must confirm it (scan)

    @property
    def id(self) -> str:
        return f"{self.entity.lower()}: {self.pattern}"


def _rules(entity: str, strong: list[str], weak: list[str] = (), *, tail: bool = False,
           context: str | None = None) -> list[NameRule]:
    return [NameRule(entity, p, STRONG, tail) for p in strong] + \
        [NameRule(entity, p, WEAK, tail, context) for p in weak]


# Patterns are matched with re.fullmatch against "(.* )?PATTERN( .*)?" on the token string.
RULES: list[NameRule] = [
    *_rules("EMAIL", [r"e ?mail( ?(address|addr|adresse|adres|adress|id))?", r"emailaddress", r"courriel",
                      r"correo( electronico)?", r"posta elettronica", r"mail ?(address|adresse|addr)", r"e ?post",
                      r"e ?postadress", r"sahkoposti"],
            [r"mail"]),
    *_rules("PHONE", [r"(tele)?phone( ?(number|no|nr|num))?", r"tel( ?(no|nr|num|number|fixe|mobile))?",
                      r"telefon( ?nummer| ?nr)?", r"telefono", r"telefone", r"telephone",
                      r"mobile( ?(phone|number|no|nr))?", r"mobil( ?nummer| ?nr| ?telefon)?", r"mobilnummer",
                      r"handy( ?nummer| ?nr)?", r"cell( ?phone| ?number)?", r"cellphone", r"cellulare", r"movil",
                      r"portable", r"msisdn", r"fax( ?(number|no|nr))?", r"rufnummer", r"telefonnummer",
                      r"numero (de )?telephone", r"numero (di )?telefono", r"contact ?(number|phone)", r"gsm",
                      r"telnr", r"phonenumber", r"mobilephone", r"telemovel", r"puhelin(numero)?", r"telefonni"]),
    *_rules("FIRST_NAME", [r"first ?name", r"fname", r"given ?name", r"forename", r"vorname", r"prenom", r"nombre",
                           r"nome", r"voornaam", r"fornavn", r"fornamn", r"christian ?name", r"imie", r"etunimi",
                           r"jmeno", r"krestni ?jmeno", r"primeiro ?nome", r"keresztnev"]),
    *_rules("LAST_NAME", [r"last ?name", r"lname", r"sur ?name", r"family ?name", r"nach ?name", r"familien ?name",
                          r"apellidos?", r"cognome", r"achternaam", r"sobrenome", r"efternavn", r"efternamn",
                          r"nazwisko", r"maiden ?name", r"geburtsname", r"sukunimi", r"prijmeni", r"apelido",
                          r"vezeteknev", r"etternavn"],
            [r"nom( de famille)?"]),
    *_rules("PERSON_NAME", [r"full ?name", r"(customer|client|contact|person|member|employee|patient|account ?holder|"
                            r"card ?holder|holder|owner|author|recipient|sender|student|guest|passenger|applicant|"
                            r"beneficiary|driver|buyer|seller|kunde|kunden|mitarbeiter|patient|titulaire|"
                            r"destinataire|cliente|nome completo|nombre completo) ?name", r"display ?name",
                            r"nom complet", r"vollst(a|ae)ndiger name", r"karteninhaber", r"kontoinhaber",
                            r"account ?holder", r"card ?holder", r"naam", r"nom prenom", r"name vorname",
                            r"fullt? ?(namn|navn)", r"(kund|kunde) ?(namn|navn)", r"nome completo"],
            [r"name", r"navn", r"namn", r"nimi"]),
    *_rules("STREET_ADDRESS", [r"(street|postal|mailing|home|billing|shipping|delivery|residential) ?address",
                               r"address( ?line)?( ?[123])?", r"addr( ?[123])?", r"street( ?(name|address|line))?",
                               # "adresse", "adress", "adresa", "adres" and compounds ("lieferadresse",
                               # "leveringsadresse", "gatuadress"), but not "emailadresse", "ipadresse"
                               r"[a-z]*(?<!mail)(?<!ip)(?<!web)(adresse|adress|adresa|adres)",
                               r"[a-z]*anschrift", r"strasse( ?(und )?(hausnummer|nr))?", r"stra(ss|ß)e", r"rue",
                               r"calle", r"indirizzo", r"direccion", r"endereco", r"morada", r"house ?(number|no)",
                               r"hausnummer", r"domicilio", r"via", r"gatuadress", r"katuosoite", r"ulice"]),
    *_rules("CITY", [r"city", r"town", r"stadt", r"wohnort", r"ville", r"ciudad", r"citta", r"localidad", r"localite",
                     r"municipality", r"gemeinde", r"plaats", r"woonplaats", r"cidade", r"city ?name",
                     r"place of birth", r"geburtsort", r"lieu de naissance", r"birth ?place", r"birthplace",
                     r"postort", r"kaupunki", r"mesto", r"obec", r"localidade"],
            [r"ort", r"locality", r"comune", r"poblacion", r"municipio"]),
    *_rules("POSTCODE", [r"zip( ?code)?", r"zipcode", r"post ?code", r"postal ?code", r"plz", r"postleitzahl",
                         r"code postal", r"codigo postal", r"codice postale", r"postnummer", r"postcode", r"postnr",
                         r"postal", r"postinumero", r"psc", r"irsz"],
            [r"cap", r"cp"]),
    *_rules("COUNTRY", [r"country( ?(code|name|iso))?", r"pays", r"pais", r"paese", r"nationality",
                        r"nationalit(a|ae)t", r"staatsangeh(o|oe)rigkeit", r"citizenship", r"nazionalita",
                        r"nacionalidad", r"nationalite", r"country ?of ?(birth|residence)", r"nacionalidade",
                        r"medborgarskap", r"statsborgerskab"],
            [r"land", r"nation", r"maa"]),
    *_rules("DATE_OF_BIRTH", [r"dob", r"d ?o ?b", r"birth ?(date|day|dt)", r"date of birth", r"birthday",
                              r"born( ?(on|at))?", r"geburts ?(datum|tag)", r"geb ?datum", r"date (de )?naissance",
                              r"fecha (de )?nacimiento", r"data (di )?nascita", r"geboortedatum",
                              r"fodelse ?(dag|datum)", r"fodsels ?(dag|dato)", r"naissance", r"nacimiento",
                              r"data (de )?nascimento", r"syntymaaika", r"datum narozeni"]),
    *_rules("NATIONAL_ID", [r"ssn", r"social ?security( ?(number|no|nr))?", r"nino",
                            r"national ?(id|insurance)( ?(number|no))?", r"steuer ?id",
                            r"steuer ?identifikations ?nummer", r"steuer ?nummer", r"tax ?(id|number|code)", r"tin",
                            r"personal ?ausweis( ?nummer| ?nr)?", r"ausweis ?(nummer|nr)", r"id ?card( ?number)?",
                            r"passport( ?(number|no|nr))?", r"reisepass( ?nummer| ?nr)?", r"nir", r"insee",
                            r"numero (de )?securite sociale", r"securite sociale", r"dni", r"nif", r"nie", r"nss",
                            r"codice fiscale", r"bsn", r"pesel", r"person ?nummer", r"aadhaar",
                            r"sozialversicherungs ?nummer", r"sv ?nummer", r"svnr", r"sin", r"nhs ?(number|no)",
                            r"driver'?s? ?licen[cs]e( ?number)?", r"fuehrerschein( ?nummer)?",
                            r"f(u|ue)hrerschein ?(nummer|nr)?", r"identity ?number", r"cpf", r"curp", r"rut",
                            r"id ?number", r"cpr( ?(nummer|nr))?", r"fodselsnummer", r"henkilotunnus", r"hetu",
                            r"rodne ?cislo", r"cartao (de )?cidadao", r"numero (de )?contribuinte"]),
    *_rules("IBAN", [r"iban", r"bank ?account( ?(number|no|nr))?", r"account ?(number|no|nr)", r"kontonummer",
                     r"konto ?(nummer|nr)", r"bankverbindung", r"rib", r"numero (de )?compte",
                     r"cuenta( bancaria)?", r"conto( corrente)?", r"bankkonto", r"tilinumero"]),
    *_rules("CREDIT_CARD", [r"credit ?card( ?(number|no|nr))?", r"card ?(number|no|nr|num)", r"cc ?(number|no|num)",
                            r"ccn", r"pan", r"kreditkarte(n ?nummer)?", r"karten ?nummer", r"numero (de )?carte",
                            r"(numero (de )?)?tarjeta", r"carta (di )?credito", r"debit ?card", r"kortnummer"]),
    *_rules("IP_ADDRESS", [r"ip( ?(address|addr|adresse|adress|v4|v6))?", r"ipv[46]( ?address)?", r"ipaddr(ess)?",
                           r"ipadress(e)?", r"(client|remote|source|src|user|last ?login|login|signup) ?ip",
                           r"remote ?addr(ess)?"]),
    *_rules("URL", [r"url", r"website", r"web ?site", r"homepage", r"home ?page", r"profile ?(url|link)",
                    r"avatar( ?url)?", r"linkedin", r"twitter", r"facebook", r"webseite", r"site ?web",
                    r"sitio web", r"hjemmeside", r"hemsida", r"web ?adress(e)?"],
            [r"link", r"web", r"uri"]),
    *_rules("USERNAME", [r"user ?name", r"login( ?name)?", r"user ?login", r"screen ?name", r"nick ?name",
                         r"benutzer ?name", r"handle", r"pseudo", r"nom d ?utilisateur", r"nombre de usuario",
                         r"account ?name", r"gamertag", r"user ?handle", r"anvandarnamn", r"brugernavn"]),
    *_rules("PASSWORD_HASH", [r"(hashed |encrypted )?pass ?word( ?hash| ?digest| ?salt)?", r"passwd( ?hash)?",
                              r"pwd( ?hash)?", r"pass ?hash", r"kennwort", r"passwort( ?hash)?", r"mot de passe",
                              r"contrasena", r"password", r"pw ?hash", r"secret ?hash", r"losenord", r"adgangskode"]),
    *_rules("CARD_CVV", [r"cvv ?2?", r"cvc ?2?", r"cid ?2", r"cvn", r"card ?(security|verification|validation) ?"
                         r"(code|value|number|no)", r"kartenpr(u|ue)fnummer", r"cryptogramme( visuel)?"]),
    *_rules("CARD_EXPIRY", [r"(credit ?card|debit ?card|card|cc) ?(exp|expiry|expiration|expires|expire|valid ?thru|"
                            r"valid ?until|gultig ?bis|ablauf(datum)?)( ?(date|month|year|mm|yy|mmyy|yyyy|mm ?yy))?",
                            r"(exp|expiry|expiration) ?(month|year|mm|yy|mmyy|mm ?yy)",
                            r"card ?valid ?(thru|through|until|to)", r"(date d ?)?expiration carte"]),
    *_rules("SECURITY_ANSWER", [r"(security|secret|recovery|challenge|verification|memorable) ?(question|answer|"
                                r"phrase|word|hint|information|info)s?( ?[0-9])?( ?(text|answer|question))?",
                                r"(mother|mothers|moms|mums) ?(s )?maiden( ?name)?", r"maiden ?name ?(of )?mother",
                                r"(first|childhood|favou?rite) ?(pet|school|car|teacher|friend|street|hero|book|movie|"
                                r"food|city|sport ?team)s?( ?s)?( ?name)?", r"pet ?s? ?name", r"name of (first )?pet",
                                r"password ?(hint|reminder)", r"sicherheits ?(frage|antwort)",
                                r"geheim ?(frage|antwort)",
                                r"question secrete", r"reponse secrete", r"pregunta (de )?seguridad",
                                r"respuesta (de )?seguridad", r"domanda (di )?sicurezza", r"risposta (di )?sicurezza"]),
    *_rules("BIOMETRIC", [r"biometrics?( ?(data|template|hash|id|sample))?",
                          r"(finger ?print|thumb ?print|palm ?print|voice ?print|iris|retina|face|facial|vein)"
                          r" ?(template|scan|image|data|encoding|embedding|vector|hash|minutiae|signature|sample)s?",
                          r"face ?id", r"(thumb ?print|palm ?print|voice ?print)s?",
                          r"fingerabdruck", r"empreinte ?(digitale)?", r"huella ?(dactilar|digital)",
                          r"impronta ?(digitale)?", r"dna( ?(sample|sequence|profile|data))?",
                          r"genetic ?(data|test|marker|profile|result)s?", r"genotype"]),
    # a bare "fingerprint" is as often a device's, a key's or a file's: a person's table confirms it
    *_rules("BIOMETRIC", [], [r"finger ?prints?"], tail=True, context="person"),
    *_rules("BINARY_PERSONAL", [r"(profile|staff|user|employee|customer|member|passport|id|student|patient|person|"
                                r"personal|member|contact|driver|account)? ?(picture|photo|photograph|portrait|"
                                r"headshot|selfie|mugshot|avatar|foto|lichtbild|passbild)s?( ?(data|blob|bytes|"
                                r"image|file|jpg|jpeg|png|raw|binary))?",
                                r"(signature|unterschrift)( ?(image|scan|file|blob|bytes|data|png|jpg|pdf))?",
                                r"(scan(ned)?|copy of) ?(id|passport|document|licen[cs]e|identity ?card|signature)s?",
                                r"(id|passport|identity ?card|licen[cs]e|ausweis) ?(scan|copy|image|photo|document|"
                                r"pdf|front|back)s?"]),
    *_rules("BIRTH_YEAR", [r"(birth|born) ?year", r"year (of )?birth", r"yob", r"geburtsjahr(gang)?",
                           r"annee (de )?naissance", r"ano (de )?nacimiento", r"anno (di )?nascita", r"geboortejaar",
                           r"fodelsear", r"fodselsar", r"ano (de )?nascimento"]),
    *_rules("AGE", [r"age( ?(years|yrs|in years|at [a-z]+|group|band|bracket|range))?",
                    r"alter( ?in jahren)?", r"lebensalter", r"edad", r"idade", r"leeftijd", r"alder"],
            tail=True),
    *_rules("GENDER", [r"(gender|sex)( ?(code|cd|identity))?", r"geschlecht", r"sexe", r"sexo", r"sesso",
                       r"geslacht", r"kon", r"kjonn", r"sukupuoli", r"pohlavi", r"genero"], tail=True),
    *_rules("MARITAL_STATUS", [r"marital ?(status|state)?", r"civil ?(status|state)", r"familien ?stand",
                               r"etat civil", r"situation (familiale|matrimoniale)", r"estado civil", r"stato civile",
                               r"burgerlijke staat", r"civilstand", r"civilstatus", r"sivilstand", r"married",
                               r"spouse ?status"]),
    *_rules("SALARY", [r"(annual|monthly|yearly|gross|net|base|basic|current|starting|hourly)? ?(salary|salaries|"
                       r"wage|wages|pay ?rate)( ?(eur|usd|gbp|amount|pa|per (year|month|annum)))?",
                       r"(brutto|netto|jahres|monats|grund)?gehalt", r"(brutto|netto|stunden|monats|jahres)?lohn",
                       r"salaire( brut| net)?", r"salario( bruto| neto)?", r"sueldo", r"stipendio", r"retribuzione",
                       r"salaris", r"lonn", r"palkka"]),
    *_rules("SALARY", [], [r"(annual|monthly|yearly|gross|net|household|personal)? ?(income|earnings|remuneration|"
                           r"compensation)", r"einkommen", r"inkomst"], tail=True, context="person"),
    *_rules("OCCUPATION", [r"occupation", r"job ?(title|name|role|description|function)", r"profession",
                           r"(professional|work|employee|staff) ?title", r"beruf(sbezeichnung)?", r"taetigkeit",
                           r"tatigkeit", r"metier", r"profesion", r"ocupacion", r"professione", r"occupazione",
                           r"beroep", r"yrke", r"ammatti", r"povolani", r"profissao"],
            [r"position", r"job", r"stellung", r"puesto", r"cargo", r"qualifica"], tail=True, context="person"),
    *_rules("EMPLOYER", [r"employer( ?name)?", r"(current |former )?employer", r"arbeitgeber", r"employeur",
                         r"empleador", r"datore (di )?lavoro", r"werkgever", r"arbetsgivare", r"arbejdsgiver",
                         r"tyonantaja", r"workplace", r"place of work", r"work ?place"],
            [r"company( ?name)?", r"organi[sz]ation( ?name)?", r"firma", r"firm", r"entreprise", r"societe",
             r"empresa", r"azienda", r"bedrijf", r"foretag"], tail=True, context="person"),
    *_rules("REGION", [r"province", r"provincia", r"provinz", r"provincie", r"bundesland", r"county", r"kanton",
                       r"canton", r"departement", r"regione", r"comunidad( autonoma)?", r"landkreis", r"voivodeship",
                       r"wojewodztwo", r"(billing|shipping|home|mailing|residence|residential|postal|address|"
                       r"delivery|customer) ?(state|region|province|county)( ?(code|name))?",
                       r"state ?(code|name|province)", r"us ?state", r"state ?or ?province"],
            [r"state", r"region", r"district", r"kraj", r"distrito", r"concelho", r"kreis"],
            tail=True, context="address"),
    *_rules("SPECIAL_CATEGORY", [
        # health
        r"diagnos(is|es|e|tico|i)( ?(code|codes|text|name|icd))?", r"codigo diagnostico", r"icd ?(10|11|9)?( ?code)?",
        r"medical ?(condition|history|record|diagnosis|status)s?", r"health ?(status|condition|data|record|issue)s?",
        r"(chronic )?(illness|disease|disorder)s?", r"disabilit(y|ies)( ?(status|type))?", r"allerg(y|ies)",
        r"medications?", r"prescriptions?", r"blood ?(type|group)", r"hiv ?status", r"pregnan(t|cy)( ?status)?",
        r"mental ?health", r"krankheit(en)?", r"erkrankung(en)?", r"behinderung", r"diagnosen?",
        r"enfermedad(es)?", r"malattia", r"maladie", r"sick ?(leave|note)s?", r"symptoms?",
        r"medical ?specialty", r"especialidad( medica)?",
        # religion, ethnicity, orientation, politics, unions
        r"religion", r"religious ?(affiliation|belief|denomination|view)s?", r"religionszugehorigkeit", r"konfession",
        r"religione", r"religion ?(ou croyance)?", r"faith", r"ethnicit(y|ies)", r"ethnic ?(group|origin|background)",
        r"racial ?(origin|group)", r"ethnische ?herkunft", r"ethnie", r"etnia", r"origine ethnique",
        r"sexual ?(orientation|preference)", r"sexuality", r"sexuelle ?orientierung", r"orientation sexuelle",
        r"orientacion sexual", r"political ?(opinion|party|affiliation|view|views|leaning|orientation)s?",
        r"party ?(affiliation|membership|member)", r"parteizugehorigkeit", r"voting ?(intention|preference)",
        r"(trade ?|labou?r ?)?union ?(member|membership|status|dues)", r"trade ?union", r"gewerkschaft(smitglied)?",
        r"syndicat", r"sindicato", r"sindacato"]),
    *_rules("SPECIAL_CATEGORY", [], [r"race"], tail=True, context="person"),
    *_rules("FREE_TEXT", [r"notes?", r"comments?", r"remarks?", r"message( body| text)?", r"body", r"free ?text",
                          r"bemerkung(en)?", r"kommentar(e)?", r"notiz(en)?", r"anmerkung(en)?", r"nachricht",
                          r"commentaires?", r"remarques?", r"comentarios?", r"observaciones", r"note interne",
                          r"internal ?notes?", r"support ?notes?", r"feedback", r"review( ?text)?", r"complaint",
                          r"ticket ?(body|text|description)", r"chat ?(message|log|transcript)", r"transcript",
                          r"freitext", r"beschwerde", r"annotation", r"memo", r"commento", r"notat",
                          r"anteckning(ar)?", r"bemaerkning(er)?"],
            [r"text", r"content", r"details?", r"description", r"summary", r"subject", r"beschreibung"]),
]

# Tokens that say a column is about an identifier, not the identifier itself.
NEGATING = {
    "at", "on", "date", "time", "ts", "timestamp", "datetime", "count", "cnt", "flag", "is", "has", "verified",
    "verification", "confirmed", "opt", "optin", "opted", "consent", "status", "type", "kind", "format", "sent",
    "bounced", "valid", "validated", "id", "ids", "uuid", "key", "fk", "length", "len", "provider", "enabled",
    "template", "sequence", "seq", "policy", "pattern", "changed", "updated", "created", "reset", "expires",
    "expiry", "attempts", "strength", "version", "algorithm", "algo", "iterations", "prefix", "preference",
    "preferences", "language", "locale", "timezone", "tz", "currency", "region", "state", "lat", "lon", "lng",
    "latitude", "longitude", "level", "score", "size", "width", "height", "color", "colour", "icon", "unit", "mime",
    "extension", "encoding", "charset", "total", "max", "min", "avg",
}
# Words for an area larger than a city: a column so named holding city-like values (Spanish provinces,
# Italian regions are named after their capitals) is not a city.
REGION_WORDS = {
    "region", "regions", "state", "province", "provincia", "provinz", "provincie", "county", "district",
    "bundesland", "kanton", "canton", "departement", "regione", "comunidad", "landkreis", "kreis", "kraj",
    "voivodeship", "wojewodztwo", "distrito", "concelho",
}
# A rule on the word "name" does not apply after these: product_name is not a person.
NOT_PERSON_NAME = {
    "product", "company", "file", "filename", "category", "brand", "item", "sku", "table", "column", "host",
    "hostname", "domain", "city", "country", "street", "shop", "store", "project", "app", "application", "service",
    "plan", "tag", "group", "role", "team", "event", "campaign", "bank", "org", "organization", "organisation", "firm",
    "business", "vendor", "supplier", "merchant", "department", "dept", "site", "page", "template", "field",
    "attribute", "variant", "model", "device", "browser", "os", "platform", "region", "state", "province", "county",
    "district", "course", "class", "job", "position", "title", "unit", "warehouse", "location", "venue", "hotel",
    "airport", "airline", "carrier", "channel", "source", "feature", "module", "package", "library", "queue", "topic",
    "bucket", "schema", "database", "db", "index", "key", "metric", "label", "status", "type", "kind", "currency",
    "language", "locale", "timezone", "firma", "produkt", "artikel", "abteilung", "societe", "entreprise", "produit",
    "empresa", "producto", "prodotto", "azienda", "display", "dish", "menu", "recipe", "song", "album", "movie", "book",
    "vare", "varu", "foretag", "virksomhed", "butik", "lager",
}
# Words that make a "fingerprint" or "face" column a thing's, not a person's biometrics.
NOT_BIOMETRIC = {
    "device", "browser", "key", "ssh", "gpg", "pgp", "cert", "certificate", "tls", "ssl", "file", "content", "public",
    "host", "client", "canvas", "audio", "tracking", "js", "request", "session", "config", "schema", "query", "code",
    "build", "image", "docker", "sha", "sha1", "sha256", "md5",
}
# Table names that make a bare "name" column a person's name.
PERSON_TABLES = {
    "customer", "customers", "client", "clients", "user", "users", "person", "persons", "people", "employee",
    "employees", "staff", "patient", "patients", "contact", "contacts", "member", "members", "author", "authors",
    "student", "students", "guest", "guests", "passenger", "passengers", "applicant", "applicants", "account",
    "accounts", "kunde", "kunden", "mitarbeiter", "personen", "benutzer", "patienten", "mitglieder", "clientes",
    "cliente", "usuarios", "empleados", "pacientes", "utilisateurs", "salaries", "employes", "clienti",
    "utenti", "dipendenti", "pazienti", "klanten", "gebruikers", "medewerkers", "leads", "lead", "subscribers",
    "subscriber", "candidates", "candidate", "donors", "donor", "owners", "owner", "tenants", "tenant", "drivers",
    "driver", "teachers", "teacher", "doctors", "doctor", "recipients", "beneficiaries", "players", "player",
    "kunder", "kund", "anstallda", "medarbetare", "ansatte", "medarbejdere", "asiakkaat", "zakaznici", "utentes",
    "funcionarios",
}
# Words that, like "name", make a person's name only as a column's last word in a person table.
BARE_NAME_WORDS = {"name", "navn", "namn", "nimi"}

_COMPILED = [(r, re.compile(rf"(?:.* )?(?P<core>{r.pattern})" + ("" if r.tail else "(?: .*)?"))) for r in RULES]
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


def tokens(name: str) -> list[str]:
    """``"customerE-Mail_Adresse"`` -> ``["customer", "e", "mail", "adresse"]``."""
    text = name.replace("ß", "ss").replace("ẞ", "SS")
    text = _CAMEL.sub(" ", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return [t for t in _SPLIT.split(text.lower()) if t]


@dataclass(frozen=True)
class NameHit:
    entity: str
    strength: float
    rule: str  # the rule's id, for the evidence
    whole: bool = False  # the rule matched the whole name
    context: str | None = None  # what the table must hold to confirm it (NameRule.context)


def region_word(column: str) -> str | None:
    """The word of ``column`` naming an area larger than a city ("provincia", "state"), if any."""
    return next((t for t in tokens(column) if t in REGION_WORDS), None)


def match(table: str, column: str) -> tuple[list[NameHit], str | None]:
    """Entities the column's name suggests (best first), and the negating token if one turned them off.

    When two rules match overlapping words, the longer match wins ("email address"
    is an email, not a street address; "ip address" an IP address).
    """
    toks = tokens(column)
    if not toks:
        return [], None
    text = " ".join(toks)
    found: list[tuple[NameRule, int, int, float]] = []
    for rule, rx in _COMPILED:
        m = rx.fullmatch(text)
        if m is None:
            continue
        strength = rule.strength
        core = m.group("core").split()
        before = toks[:len(text[:m.start("core")].split())]
        others = [t for t in toks if t not in core]
        if rule.entity in ("FIRST_NAME", "LAST_NAME", "PERSON_NAME") and any(t in NOT_PERSON_NAME for t in others):
            continue  # "company_name", "product_name"
        if rule.entity == "BIOMETRIC" and any(t in NOT_BIOMETRIC for t in others):
            continue  # "device_fingerprint", "ssh_key_fingerprint"
        if rule.entity == "PERSON_NAME" and rule.strength == WEAK:
            # a bare "name": a person's only as the last word, in a person-like table or after "customer"...
            if toks[-1] not in BARE_NAME_WORDS:
                continue
            table_toks = set(tokens(table.rsplit(".", 1)[-1]))
            if set(before) & PERSON_TABLES:
                strength = STRONG
            elif table_toks & PERSON_TABLES and not before:
                strength = 0.7
            else:
                continue
        found.append((rule, m.start("core"), m.end("core"), strength))
    # drop matches inside a longer match of another entity
    kept = [f for f in found if not any(g[0].entity != f[0].entity and g[1] <= f[1] and f[2] <= g[2]
                                        and g[2] - g[1] > f[2] - f[1] for g in found)]
    hits: dict[str, NameHit] = {}
    negating = None
    for rule, a, b, strength in kept:
        # "phone_type", "email_verified_at", "address_id": a negating word outside the matched words
        # makes the column about the identifier, not the identifier ("tax id", "marital status" are rules)
        outside = text[:a].split() + text[b:].split()
        neg = next((t for t in outside if t in NEGATING), None)
        if neg is not None:
            negating = negating or neg
            continue
        prev = hits.get(rule.entity)
        if prev is None or strength > prev.strength:
            hits[rule.entity] = NameHit(rule.entity, strength, rule.id, a == 0 and b == len(text), rule.context)
    if not hits:
        return [], negating
    return sorted(hits.values(), key=lambda h: -h.strength), None

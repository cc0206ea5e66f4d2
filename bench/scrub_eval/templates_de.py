# ruff: noqa: E501  (template text: one line of a note is one line here)
"""German templates (DEV and TEST never share one). Many capitalised nouns that must stay."""

DEV = [
    ("note", """
        Hausbesuch am {weekday}: Frau {p1.last} ({p1.full}) wohnt jetzt in der {a1.street}, {a1.unit}, {a1.postcode} {a1.city}.
        Die Tochter {p2.first} ist unter {mobile} erreichbar. Blutdruck stabil, Medikation unverändert.
        Nächster Termin im {month}. {p1.first} bittet um Rückruf wegen der Rechnung.
    """),
    ("ticket", """
        Ticket {ticket}: Rückerstattung
        Kunde: {p1.full}
        E-Mail: {p1.email}
        Telefon: {phone}
        Die Bestellung {order} über {amount} € wurde doppelt von der Karte {card} abgebucht.
        Bitte einen Betrag zurückerstatten. Die Rückerstattung soll auf das Konto {iban} gehen.
        Anmeldung erfolgte von {ip}. Weitergeleitet an die Buchhaltung am {weekday}.
    """),
    ("email", """
        Hallo {p1.first},

        vielen Dank für die schnelle Antwort. Anbei der unterschriebene Vertrag für die Einführung von {product}.
        Könnten Sie bestätigen, ob Herr {p2.last} am {weekday} zum Auftakttreffen kommt?

        Viele Grüße
        {p3.full}
        Projektleitung
        {company}
        {a1.street}, {a1.postcode} {a1.city}
        Tel.: {phone} | Mobil: {mobile}
        {p3.email}
    """),
    ("email", """
        Sehr geehrtes Support-Team,

        mein Name ist {p1.full}, ich bin seit {month} Kundin. Mein {product} synchronisiert seit Montag nicht mehr.
        Die Neuinstallation hat nichts gebracht. Sie erreichen mich unter {phone} oder {p1.email} (Profil: {url}).
        Bitte schicken Sie keine Post mehr an meine alte Adresse ({a1.street}, {a1.city|upper}).

        Mit freundlichen Grüßen
        {p1.first}
    """),
    ("chat", """
        [{time}] {p1.first}: hallo, ist jemand da? meine Lieferung ist immer noch nicht angekommen
        [{time}] Mitarbeiterin {p2.first}: Guten Tag! Das tut mir leid. Wie lautet die Bestellnummer?
        [{time}] {p1.first}: {order}, Lieferadresse {a1.street} in {a1.city}
        [{time}] Mitarbeiterin {p2.first}: Danke, {p1.first}. Das Paket liegt im Depot, der Fahrer ruft {phone} an.
    """),
    ("chat", """
        {p1.handle}: Moin, wer hat den Schlüssel für den Serverraum?
        {p2.handle}: {p3.first|lower} hat ihn, ist bis 15 Uhr da
        {p1.handle}: ok. kann jemand {ip} für das VPN freigeben? das ist die Adresse von {p1.first}
        {p3.handle}: erledigt. Gib Bescheid, falls die Teambesprechung am Montag verschoben wird
    """),
    ("list", """
        Teilnehmer Quartalsbesprechung ({month})
        - {p1.full}, {company}
        - {p2.initial_last}, Finanzen
        - {p3.last_first} (remote aus {a1.city})
        - {p4.first} aus dem Vertrieb
        Verpflegung für {n} Personen. Raum: Konferenzraum 2.
    """),
    ("note", """
        Telefonnotiz {weekday}: Herr {p1.last} hat wegen der offenen Rechnung ({amount} €) angerufen.
        {p1.first} {p1.last} sagt, die Überweisung ging letzte Woche von {iban} raus. Außerdem soll die
        Rechnungsanschrift geändert werden auf {p2.full}, {a1.street}, {a1.postcode} {a1.city}. Steuer-ID {natid}.
    """),
]

TEST = [
    ("note", """
        Pflegebericht: {p1.full}, aufgenommen am {weekday}. Sohn {p2.first} {p1.last} war zu Besuch und hat seine
        Nummer dagelassen ({mobile}). Entlassung geplant nach {a1.street}, {a1.city}. {p1.first} isst gut.
        Apotheke in {a2.city|upper} ist informiert. Versichertennummer {natid}.
    """),
    ("ticket", """
        Vorgang {ticket}: Rücklastschrift
        Karteninhaber {p1.full} widerspricht einer Zahlung von {amount} € mit der Karte {card} vom {day}. {month}.
        Händler: {company}. Rechnungsadresse {a1.street}, {a1.postcode} {a1.city}.
        IP beim Bezahlen {ip}; Gerät {product}. Bitte {p1.first} vor Donnerstag unter {phone} anrufen.
    """),
    ("email", """
        Guten Tag {p1.first} {p1.last},

        wie am {weekday} besprochen, hier die Bankverbindung für die Gutschrift über {amount} €:
        Kontoinhaberin {p1.full}, IBAN {iban}. Falls etwas fehlt, meldet sich {p2.first} aus der Buchhaltung
        unter {phone}.

        Beste Grüße
        {p2.full}
        Kundenservice | {company}
        {a1.street} · {a1.postcode} {a1.city}
        Durchwahl {phone2} · {url}
    """),
    ("email", """
        Sehr geehrte Damen und Herren,

        ich schreibe im Auftrag meiner Mutter, {p1.full}, die keinen Zugang mehr zu ihrem Kundenkonto hat.
        Sie wohnt in der {a1.street} in {a1.city} und ist unter {phone_intl} erreichbar. Briefe bitte an mich:
        {p2.full}, {a2.street}, {a2.postcode} {a2.city}. Meine E-Mail-Adresse lautet {p2.email}.

        Mit freundlichen Grüßen
        {p2.first} {p1.last|upper}
    """),
    ("chat", """
        {p1.handle}: hey {p2.first|lower}, hat {p3.first} dir die Folien geschickt?
        {p2.handle}: noch nicht. {p3.first} ist krank, versuch es über {p3.email}
        {p1.handle}: ok. Der Kundentermin ist auf Mittwoch verschoben, Einwahl {phone}
        {p2.handle}: Danke! Bis zum Sprint-Review
    """),
    ("chat", """
        [{time}] Besucher: Ich möchte die Lieferadresse der Bestellung {order} ändern
        [{time}] {p1.first} (Kundendienst): Gern, wie lautet die neue Adresse?
        [{time}] Besucher: {a1.street}, {a1.unit}, {a1.postcode} {a1.city}, Empfänger {p2.full}
        [{time}] {p1.first} (Kundendienst): Erledigt. Die Versandbestätigung geht per SMS an {mobile}.
    """),
    ("list", """
        Notfallkontakte:
        1. {p1.full|upper} - {phone}
        2. {p2.full} - {phone_intl}
        3. Hausmeister - Durchwahl {n}00
        Anschrift: {a1.street}, {a1.postcode} {a1.city|upper}
    """),
    ("ticket", """
        Auskunftsersuchen nach DSGVO ({ticket})
        Antragsteller: {p1.full}, geboren in {a2.city}, wohnhaft {a1.street}, {a1.postcode} {a1.city} (laut Ausweis Hausnummer {a1.house}).
        Ausweis geprüft, Steuer-ID {natid}. Export innerhalb eines Monats an {p1.email} senden. Konten: {p1.handle}, {url}.
    """),
]

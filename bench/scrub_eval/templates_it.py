# ruff: noqa: E501  (template text: one line of a note is one line here)
"""Italian templates (DEV and TEST never share one)."""

DEV = [
    ("note", """
        Visita domiciliare di {weekday}: la sig.ra {p1.last} ({p1.full}) ora abita in {a1.street}, {a1.unit},
        {a1.postcode} {a1.city}. La figlia {p2.first} è raggiungibile al {mobile}. Pressione stabile.
        Prossimo appuntamento a {month}. {p1.first} chiede di essere richiamata per la fattura.
    """),
    ("ticket", """
        Ticket {ticket}: Rimborso
        Cliente: {p1.full}
        Email: {p1.email}
        Profilo: {url}
        Telefono: {phone}
        L'ordine {order} di {amount} € è stato addebitato due volte sulla carta {card}.
        Rimborsare un importo sul conto {iban}. Accesso da {ip}. Inoltrato all'Amministrazione {weekday}.
    """),
    ("email", """
        Ciao {p1.first},

        grazie per la risposta veloce. In allegato il contratto firmato per l'introduzione di {product}.
        Può confermare se il sig. {p2.last} parteciperà alla riunione di avvio di {weekday}?

        Cordiali saluti,
        {p3.full}
        Responsabile di Progetto
        {company}
        {a1.street}, {a1.postcode} {a1.city}
        Tel.: {phone} | Cellulare: {mobile}
        {p3.email}
    """),
    ("chat", """
        [{time}] {p1.first}: salve, c'è qualcuno? il mio ordine non è ancora arrivato
        [{time}] Operatrice {p2.first}: Buongiorno! Mi dispiace. Qual è il numero d'ordine?
        [{time}] {p1.first}: {order}, indirizzo {a1.street} a {a1.city}
        [{time}] Operatrice {p2.first}: Grazie {p1.first}. Il pacco è in deposito, il corriere chiamerà il {phone}.
    """),
    ("list", """
        Partecipanti Revisione Trimestrale ({month})
        - {p1.full}, {company}
        - {p2.initial_last}, Finanza
        - {p3.full|lower} (da remoto da {a1.city|upper})
        - {p4.first} dell'Ufficio Vendite
        Pranzo per {n} persone. Sala: Sala Riunioni.
    """),
    ("note", """
        Telefonata di {weekday}: il sig. {p1.last} ha chiamato per la fattura insoluta ({amount} €).
        {p1.first} {p1.last} dice che il bonifico è partito la settimana scorsa dal conto {iban}.
        Nuovo indirizzo di fatturazione: {p2.full}, {a1.street}, {a1.postcode} {a1.city}. Codice fiscale {natid}.
    """),
]

TEST = [
    ("note", """
        Diario infermieristico: {p1.full}, ricoverata {weekday}. Il figlio {p2.first} {p1.last} ha lasciato il suo numero
        ({mobile}). Dimissione prevista in {a1.street}, {a1.city}. {p1.first} mangia bene. Farmacia di {a2.city|upper}
        avvisata. Codice fiscale {natid}.
    """),
    ("ticket", """
        Pratica {ticket}: Storno
        Il titolare {p1.full} contesta un pagamento di {amount} € con la carta {card} del {day} {month}.
        Esercente: {company}. Indirizzo di fatturazione {a1.street}, {a1.postcode} {a1.city}.
        IP al pagamento {ip}; dispositivo {product}. Richiamare {p1.first} entro giovedì al {phone}.
    """),
    ("email", """
        Gentile {p1.full},

        come concordato {weekday}, ecco le coordinate bancarie per l'accredito di {amount} €:
        intestatario {p1.full}, IBAN {iban}. Se manca qualcosa, {p2.first} dell'Amministrazione la chiamerà al {phone}.

        Distinti saluti,
        {p2.full}
        Servizio Clienti | {company}
        {a1.street}, {a1.postcode} {a1.city}
        Diretto {phone2} - {url}
    """),
    ("chat", """
        {p1.handle}: ehi {p2.first|lower}, {p3.first} ti ha mandato le slide?
        {p2.handle}: non ancora. {p3.first} è in malattia, prova a {p3.email}
        {p1.handle}: ok. La call con il cliente è spostata a mercoledì, numero {phone_intl}
        {p2.handle}: Grazie! Ci vediamo alla Sprint Review
    """),
    ("list", """
        Contatti di emergenza:
        1. {p1.full|upper} - {phone}
        2. {p2.last_first} - {phone_intl}
        3. Portineria - interno {n}00
        Indirizzo: {a1.street}, {a1.unit}, {a1.postcode} {a1.city|upper}
    """),
    ("ticket", """
        Richiesta di accesso GDPR ({ticket})
        Richiedente: {p1.full}, nato a {a2.city}, residente in {a1.street}, {a1.postcode} {a1.city}.
        Documento verificato: {natid}. Inviare l'esportazione a {p1.email} entro un mese. Account: {p1.handle}, {url}.
    """),
]

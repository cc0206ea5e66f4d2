# ruff: noqa: E501  (template text: one line of a note is one line here)
"""French templates (DEV and TEST never share one)."""

DEV = [
    ("note", """
        Visite à domicile le {weekday} : Mme {p1.last} ({p1.full}) habite maintenant au {a1.street}, {a1.unit},
        {a1.postcode} {a1.city}. Sa fille {p2.first} est joignable au {mobile}. Tension stable, traitement inchangé.
        Prochain rendez-vous en {month}. {p1.first} demande à être rappelée au sujet de la facture.
    """),
    ("ticket", """
        Ticket {ticket} : Remboursement
        Client : {p1.full}
        Courriel : {p1.email}
        Téléphone : {phone}
        La commande {order} de {amount} € a été débitée deux fois sur la carte {card}.
        Merci de rembourser un montant sur le compte {iban}. Connexion depuis {ip}.
        Transmis au Service Comptabilité le {weekday}.
    """),
    ("email", """
        Bonjour {p1.first},

        Merci pour votre réponse rapide. Vous trouverez ci-joint le contrat signé pour le déploiement de {product}.
        Pouvez-vous confirmer que M. {p2.last} sera présent à la réunion de lancement {weekday} ?

        Bien cordialement,
        {p3.full}
        Chef de projet
        {company}
        {a1.street}, {a1.postcode} {a1.city}
        Tél. : {phone} | Portable : {mobile}
        {p3.email}
    """),
    ("email", """
        Madame, Monsieur,

        je m'appelle {p1.full} et je suis cliente depuis {month}. Mon {product} ne se synchronise plus depuis lundi.
        Vous pouvez me joindre au {phone} ou à {p1.email} (mon profil : {url}). Merci de ne plus rien envoyer à mon ancienne
        adresse ({a1.street}, {a1.city|upper}).

        Cordialement,
        {p1.first}
    """),
    ("chat", """
        [{time}] {p1.first} : bonjour, il y a quelqu'un ? ma commande n'est toujours pas arrivée
        [{time}] Conseillère {p2.first} : Bonjour ! Je suis désolée. Quel est le numéro de commande ?
        [{time}] {p1.first} : {order}, livraison au {a1.street} à {a1.city}
        [{time}] Conseillère {p2.first} : Merci {p1.first}. Le colis est au dépôt, le livreur appellera le {phone}.
    """),
    ("chat", """
        {p1.handle}: salut, qui a la clé de la salle serveur ?
        {p2.handle}: c'est {p3.first|lower}, elle est là jusqu'à 15h
        {p1.handle}: ok. quelqu'un peut autoriser {ip} sur le VPN ? c'est chez {p1.first}
        {p3.handle}: fait. Prévenez-moi si la Réunion d'équipe de lundi est déplacée
    """),
    ("list", """
        Participants Revue trimestrielle ({month})
        - {p1.full}, {company}
        - {p2.initial_last}, Finances
        - {p3.last_first} (à distance depuis {a1.city})
        - {p4.first} du Service Commercial
        Repas pour {n} personnes. Salle : Salle du Conseil.
    """),
    ("note", """
        Appel du {weekday} : M. {p1.last} a appelé au sujet de la facture impayée ({amount} €).
        {p1.first} {p1.last} affirme que le virement est parti la semaine dernière du compte {iban}.
        Nouvelle adresse de facturation : {p2.full}, {a1.street}, {a1.postcode} {a1.city}. NIR {natid}.
    """),
]

TEST = [
    ("note", """
        Transmission infirmière : {p1.full}, admise {weekday}. Son fils {p2.first} {p1.last} est passé et a laissé son
        numéro ({mobile}). Sortie prévue au {a1.street}, {a1.city}. {p1.first} mange bien.
        Pharmacie de {a2.city|upper} prévenue. Numéro de sécurité sociale {natid}.
    """),
    ("ticket", """
        Dossier {ticket} : Opposition bancaire
        Le titulaire {p1.full} conteste un paiement de {amount} € avec la carte {card} du {day} {month}.
        Commerçant : {company}. Adresse de facturation {a1.street}, {a1.postcode} {a1.city}.
        IP au paiement {ip} ; appareil {product}. Rappeler {p1.first} avant jeudi au {phone}.
    """),
    ("email", """
        Bonjour {p1.first} {p1.last},

        Comme convenu {weekday}, voici les coordonnées bancaires pour l'avoir de {amount} € :
        titulaire {p1.full}, IBAN {iban}. S'il manque quelque chose, {p2.first} de la Comptabilité vous
        contactera au {phone}.

        Meilleures salutations,
        {p2.full}
        Service Client | {company}
        {a1.street} - {a1.postcode} {a1.city}
        Ligne directe {phone2} - {url}
    """),
    ("email", """
        Madame, Monsieur,

        je vous écris de la part de ma mère, {p1.full}, qui n'a plus accès à son espace client.
        Elle habite {a1.street} à {a1.city} et son numéro est le {phone_intl}. Merci d'envoyer le courrier chez moi :
        {p2.full}, {a2.street}, {a2.postcode} {a2.city}. Mon adresse électronique est {p2.email}.

        Veuillez agréer mes salutations distinguées,
        {p2.first} {p1.last|upper}
    """),
    ("chat", """
        {p1.handle}: coucou {p2.first|lower}, {p3.first} t'a envoyé les diapos ?
        {p2.handle}: pas encore. {p3.first} est malade, essaie {p3.email}
        {p1.handle}: ok. Le rendez-vous client est décalé à mercredi, numéro d'accès {phone}
        {p2.handle}: Merci ! À la Revue de sprint
    """),
    ("chat", """
        [{time}] Visiteur : Je voudrais changer l'adresse de livraison de la commande {order}
        [{time}] {p1.first} (Service Client) : Bien sûr, quelle est la nouvelle adresse ?
        [{time}] Visiteur : {a1.street}, {a1.unit}, {a1.postcode} {a1.city}, destinataire {p2.full}
        [{time}] {p1.first} (Service Client) : C'est fait. La confirmation sera envoyée par SMS au {mobile}.
    """),
    ("list", """
        Contacts d'urgence :
        1. {p1.full|upper} - {phone}
        2. {p2.full} - {phone_intl}
        3. Gardien - poste {n}00
        Adresse : {a1.street}, {a1.postcode} {a1.city|upper}
    """),
    ("ticket", """
        Demande d'accès RGPD ({ticket})
        Demandeur : {p1.full}, né à {a2.city}, domicilié {a1.street}, {a1.postcode} {a1.city}.
        Pièce d'identité vérifiée, NIR {natid}. Envoyer l'export sous un mois à {p1.email}. Comptes : {p1.handle}, {url}.
    """),
]

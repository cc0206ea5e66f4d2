# ruff: noqa: E501  (template text: one line of a note is one line here)
"""English templates. DEV and TEST never share a template (the split is by template and by seed).

Slots: see slots.py. Ordinary capitalised words (weekdays, months, products, team names, greetings)
are left in on purpose: a scrubber must not replace them.
"""

DEV = [
    ("note", """
        Patient {p1.full} ({p1.first} prefers to be called by first name) attended the clinic on {weekday}.
        Lives at {a1.street}, {a1.unit}, {a1.city} {a1.postcode}. Contact number {phone}.
        Reports mild headaches since {month}. Blood pressure normal. Follow-up in {n} weeks;
        {p1.first} was asked to bring the discharge letter from Dr. {p2.last}.
    """),
    ("note", """
        Home visit: {p1.first|lower} {p1.last|lower} was not at {a1.house} {a1.streetname}, neighbour said she moved to
        {a2.city|upper}. New number given by her son {p2.first}: {mobile}. Social Security Number on file {natid}.
        Next visit scheduled for {weekday} morning.
    """),
    ("ticket", """
        Ticket {ticket} - Refund request
        Customer: {p1.full}
        Email: {p1.email}
        Phone: {phone}
        The customer was charged twice for order #{order} ({amount} USD) with the card {card}.
        Please refund one charge. Customer says the Help Center article did not load in Safari.
        Login attempts came from {ip}. Escalated to Billing Team on {weekday}.
    """),
    ("ticket", """
        [{ticket}] Delivery problem
        Order {order} was returned to sender. Shipping address on the order: {a1.street}, {a1.city}, {a1.postcode}.
        The correct address is {a2.street} {a2.unit}, {a2.postcode} {a2.city}.
        Please call {p1.first} on {phone_intl} before Friday. Product: {product}.
    """),
    ("email", """
        Hi {p1.first},

        Thanks for getting back to me so quickly. I have attached the signed contract for the
        {product} rollout. Our accounts team will wire the deposit from IBAN {iban} by the end of {month}.
        Could you confirm whether {p2.full} from your side will attend the kickoff on {weekday}?

        Best regards,
        {p3.full}
        Senior Project Manager
        {company}
        {a1.street}, {a1.city}, {a1.postcode}
        Tel: {phone} | Mobile: {mobile}
        {p3.email}
    """),
    ("email", """
        Dear Support Team,

        my name is {p1.full} and I have been a customer since {month}. My {product} stopped syncing
        last Monday. I already reinstalled the app twice. You can reach me at {phone} or {p1.email}.
        My profile is {url} if that helps. Please do not send anything to my old address ({a1.street}).

        Kind regards,
        {p1.first}
    """),
    ("chat", """
        [{time}] {p1.first}: hi, is anyone there? my order still hasn't arrived
        [{time}] Agent {p2.first}: Hello! I'm sorry to hear that. Can I have your order number?
        [{time}] {p1.first}: {order}, it was supposed to go to {a1.street} in {a1.city}
        [{time}] Agent {p2.first}: Thanks {p1.first}. I can see it is held at the depot. I'll ask them to call {phone}.
        [{time}] {p1.first}: great, thank you
    """),
    ("chat", """
        {p1.handle}: morning all, who has the keys for the server room?
        {p2.handle}: {p3.first} has them, she is in until 3pm
        {p1.handle}: ok. also can someone whitelist {ip} for the VPN? it's {p1.first}'s home IP
        {p3.handle}: done. ping me if the Monday Standup gets moved again
        {p1.handle}: thx, my new portfolio is up at {url} btw
    """),
    ("list", """
        Attendees - Quarterly Review ({month})
        - {p1.full}, {company}
        - {p2.initial_last}, Finance
        - {p3.last_first} (remote, {a1.city})
        - {p4.first} from Marketing
        Catering for {n} people. Room: Board Room 2.
    """),
    ("list", """
        Emergency contacts:
        1. {p1.full|upper} - {phone}
        2. {p2.full} - {phone_intl}
        3. Building security - ext. {n}00
        Address: {a1.street}, {a1.city|upper}, {a1.postcode}
    """),
    ("note", """
        Call log {weekday}: spoke to {p1.first} {p1.last} about the overdue invoice ({amount} GBP).
        {p1.last} confirmed the payment was sent from account {iban} last week. {p1.first} also asked
        us to update the billing contact to {p2.full} ({p2.email}). Reminder set for {month} {day}.
    """),
    ("ticket", """
        Subject: Account locked
        User {p1.handle} ({p1.full}) cannot sign in to Outlook since the Windows Update on {weekday}.
        Last successful login from {ip6}. Verified identity with date of birth and last four digits of SSN {natid}.
        Password reset link sent to {p1.email}. Ticket closed by {p2.first}.
    """),
]

TEST = [
    ("note", """
        Nursing note: {p1.full}, admitted {weekday}. Daughter {p2.first} {p1.last} visited and left her number
        ({mobile}). Discharge planned to {a1.street}, {a1.unit}, {a1.city}. {p1.first} is comfortable and eating well.
        Pharmacy at {a2.city} informed. Insurance member ID {natid}.
    """),
    ("note", """
        Intake: referred by Dr. {p2.full} of {company}. Client {p1.first|lower} lives alone at {a1.house} {a1.streetname}
        ({a1.postcode}). Prefers contact by email: {p1.email}. Previous address in {a2.city|upper}, {a2.postcode}.
        Next appointment {weekday} at {time}.
    """),
    ("ticket", """
        Case {ticket}: Chargeback received
        Cardholder {p1.full} disputes a payment of {amount} EUR made with {card} on {month} {day}.
        Merchant account: {company}. Billing address {a1.street}, {a1.postcode} {a1.city}.
        IP at checkout {ip}; device {product}. Contact {p1.first} at {phone} before Thursday.
    """),
    ("ticket", """
        New hire setup for {p1.full} (starts {weekday}). Laptop: {product}. Desk phone {phone}.
        Manager: {p2.full}. Payroll needs IBAN {iban} and National Insurance number {natid}.
        Home address for the welcome pack: {a1.street}, {a1.unit}, {a1.city} {a1.postcode}.
    """),
    ("email", """
        Hello {p1.first},

        Following our call on {weekday}, here are the bank details for the refund of {amount} USD:
        account holder {p1.full}, IBAN {iban}. If anything is missing, {p2.first} from our Finance Team
        will contact you on {phone}.

        Many thanks,
        {p2.full}
        Customer Success Lead | {company}
        {a1.street}, {a1.city} {a1.postcode}
        Direct: {phone2}  Web: {url}
    """),
    ("email", """
        Dear Sir or Madam,

        I am writing on behalf of my father, {p1.full}, who has been unable to access his online account.
        He lives at {a1.street} in {a1.city|upper} and his phone number is {phone_intl}. Please send any letters
        to me instead: {p2.full}, {a2.street}, {a2.city}, {a2.postcode}. My email is {p2.email}.

        Yours faithfully,
        {p2.first} {p1.last}
    """),
    ("chat", """
        {p1.handle}: hey {p2.first|lower}, did {p3.first} send you the slides?
        {p2.handle}: not yet. i think {p3.first} is out sick, try {p3.email}
        {p1.handle}: ok. btw the client call moved to Wednesday, dial-in is {phone}
        {p2.handle}: thanks! see you at the Sprint Review
    """),
    ("chat", """
        [{time}] Visitor: Hi I need to change the delivery address on order {order}
        [{time}] {p1.first} (Support): Sure, what's the new address?
        [{time}] Visitor: {a1.street}, {a1.unit}, {a1.city} {a1.postcode}. the name is {p2.full}
        [{time}] {p1.first} (Support): Updated. We'll text {mobile} when it ships.
    """),
    ("list", """
        Volunteer rota - {month}
        {weekday}: {p1.first} {p1.last} ({phone})
        {weekday2}: {p2.full|lower}
        Saturday: {p3.initial_last}, {p4.first}
        Keys kept by {p1.first}, {a1.street}, {a1.city}.
    """),
    ("list", """
        Suppliers to contact:
        * {company} - {p1.full}, {phone_intl}, {p1.email}
        * {company2} - {p2.last_first}, {phone}
        Server list: web01 {ip}, backup {ip2}
    """),
    ("note", """
        Complaint received by phone. Caller gave her name as {p1.first} and her postcode as {a1.postcode}.
        She says the engineer {p2.first} {p2.last} left the gate open at {a1.house} {a1.streetname}. Called back from
        {phone}; {p1.first} asked for a manager. Card on file ends {card}.
    """),
    ("ticket", """
        SR {ticket}: GDPR access request
        Requester: {p1.full|upper}, born in {a1.city}, current address {a2.street}, {a2.postcode} {a2.city}.
        ID checked: {natid}. Send the export to {p1.email} within one month. Related accounts: {p1.handle}, {url}.
    """),
]

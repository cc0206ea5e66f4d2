# ruff: noqa: E501  (template text: one line of a note is one line here)
"""Spanish templates (DEV and TEST never share one)."""

DEV = [
    ("note", """
        Visita a domicilio el {weekday}: la Sra. {p1.last} ({p1.full}) vive ahora en {a1.street}, {a1.unit},
        {a1.postcode} {a1.city}. Su hija {p2.first} está localizable en el {mobile}. Tensión estable.
        Próxima cita en {month}. {p1.first} pide que la llamen por la factura.
    """),
    ("ticket", """
        Ticket {ticket}: Reembolso
        Cliente: {p1.full}
        Correo: {p1.email}
        Perfil: {url}
        Teléfono: {phone}
        El pedido {order} de {amount} € se cobró dos veces en la tarjeta {card}.
        Devolver un importe a la cuenta {iban}. Acceso desde {ip}. Enviado a Contabilidad el {weekday}.
    """),
    ("email", """
        Hola {p1.first}:

        Gracias por la respuesta tan rápida. Adjunto el contrato firmado para la implantación de {product}.
        ¿Puede confirmar si el Sr. {p2.last} vendrá a la reunión de inicio el {weekday}?

        Un saludo,
        {p3.full}
        Jefe de Proyecto
        {company}
        {a1.street}, {a1.postcode} {a1.city}
        Tel.: {phone} | Móvil: {mobile}
        {p3.email}
    """),
    ("chat", """
        [{time}] {p1.first}: hola, ¿hay alguien? mi pedido todavía no ha llegado
        [{time}] Agente {p2.first}: ¡Buenos días! Lo siento mucho. ¿Me da el número de pedido?
        [{time}] {p1.first}: {order}, la dirección es {a1.street} en {a1.city}
        [{time}] Agente {p2.first}: Gracias, {p1.first}. El paquete está en el almacén, el repartidor llamará al {phone}.
    """),
    ("list", """
        Asistentes Revisión Trimestral ({month})
        - {p1.full}, {company}
        - {p2.initial_last}, Finanzas
        - {p3.full|lower} (en remoto desde {a1.city|upper})
        - {p4.first} de Ventas
        Comida para {n} personas. Sala: Sala de Juntas.
    """),
    ("note", """
        Llamada del {weekday}: el Sr. {p1.last} llamó por la factura pendiente ({amount} €).
        {p1.first} {p1.last} dice que la transferencia salió la semana pasada de la cuenta {iban}.
        Nueva dirección de facturación: {p2.full}, {a1.street}, {a1.postcode} {a1.city}. DNI {natid}.
    """),
]

TEST = [
    ("note", """
        Informe de enfermería: {p1.full}, ingresada el {weekday}. Su hijo {p2.first} {p1.last} dejó su número
        ({mobile}). Alta prevista a {a1.street}, {a1.city}. {p1.first} come bien. Farmacia de {a2.city|upper} avisada.
        Documento {natid}.
    """),
    ("ticket", """
        Expediente {ticket}: Contracargo
        El titular {p1.full} reclama un pago de {amount} € con la tarjeta {card} del {day} de {month}.
        Comercio: {company}. Dirección de facturación {a1.street}, {a1.postcode} {a1.city}.
        IP del pago {ip}; dispositivo {product}. Llamar a {p1.first} antes del jueves al {phone}.
    """),
    ("email", """
        Estimada {p1.full}:

        Como hablamos el {weekday}, estos son los datos bancarios para el abono de {amount} €:
        titular {p1.full}, IBAN {iban}. Si falta algo, {p2.first} de Contabilidad le llamará al {phone}.
        Puede escribirnos también a {p2.email}.

        Atentamente,
        {p2.full}
        Atención al Cliente | {company}
        {a1.street}, {a1.postcode} {a1.city}
        Directo {phone2} - {url}
    """),
    ("chat", """
        {p1.handle}: oye {p2.first|lower}, ¿{p3.first} te ha mandado las diapositivas?
        {p2.handle}: todavía no. {p3.first} está de baja, prueba con {p3.email}
        {p1.handle}: vale. La reunión con el cliente pasa al miércoles, número {phone_intl}
        {p2.handle}: ¡Gracias! Nos vemos en la Revisión del Sprint
    """),
    ("list", """
        Contactos de emergencia:
        1. {p1.full|upper} - {phone}
        2. {p2.last_first} - {phone_intl}
        3. Conserje - extensión {n}00
        Dirección: {a1.street}, {a1.unit}, {a1.postcode} {a1.city|upper}
    """),
    ("ticket", """
        Solicitud de acceso RGPD ({ticket})
        Solicitante: {p1.full}, nacido en {a2.city}, domicilio {a1.street}, {a1.postcode} {a1.city}.
        Documento verificado: {natid}. Enviar la exportación a {p1.email} en un mes. Cuentas: {p1.handle}, {url}.
    """),
]

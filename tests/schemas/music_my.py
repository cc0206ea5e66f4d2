"""MariaDB/MySQL "music store", modelled on a real sales database (artists, albums, tracks,
customers, invoices), written the way MySQL applications write theirs:

- ``TINYINT UNSIGNED`` and ``SMALLINT UNSIGNED`` keys with AUTO_INCREMENT (genre, media type,
  employee, and 200 countries near the type's top; artist, album, track, customer, playlist),
  ``INT UNSIGNED`` on invoices, ``BIGINT UNSIGNED`` on invoice lines;
- ``employee.reports_to`` is a declared self-reference; ``customer.support_rep_id`` points at
  ``employee.employee_id`` with no FOREIGN KEY; ``track.composer_artist_id`` -> ``artist`` neither;
- ``playlist_track`` is a junction table with a composite primary key; ``listening_log`` has no
  primary key and no foreign key (its customer_id and track_id are FK-less references), and IP
  addresses (v4 and v6);
- varchar limits, ``CHAR(2)`` countries, ``CHAR(5)`` ZIPs with leading zeros, ``VARCHAR(12)``
  employee phones (``VARCHAR(16)`` for customers: Czech numbers are 13 characters), DATETIME and
  TIMESTAMP, DECIMAL, ENUM, SET, YEAR, JSON (an email inside), POINT, a CHECK, a unique email and phone,
  stored and virtual generated columns, utf8mb4 text with emoji (notes in German, French, Czech and
  Japanese), a trigger and a view.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

from .common import COUNTRY, People, RealSchema, Relation, Sensitive, SqlExpr, moment, money, note

SEED = 20261206

DDL = r"""
CREATE TABLE genre (
  genre_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(120) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE media_type (
  media_type_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(120) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE country (
  country_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  iso_code CHAR(2) NOT NULL,
  name VARCHAR(60) NOT NULL,
  UNIQUE KEY uq_country_iso (iso_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE artist (
  artist_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(120) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE album (
  album_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  title VARCHAR(160) NOT NULL,
  artist_id SMALLINT UNSIGNED NOT NULL,
  released YEAR,
  parent_album_id SMALLINT UNSIGNED,
  CONSTRAINT fk_album_artist FOREIGN KEY (artist_id) REFERENCES artist (artist_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE track (
  track_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  album_id SMALLINT UNSIGNED NOT NULL,
  media_type_id TINYINT UNSIGNED NOT NULL,
  genre_id TINYINT UNSIGNED,
  composer_artist_id SMALLINT UNSIGNED,
  milliseconds INT UNSIGNED NOT NULL,
  bytes INT UNSIGNED,
  unit_price DECIMAL(4,2) NOT NULL,
  tags SET('live', 'remaster', 'explicit', 'instrumental') NOT NULL DEFAULT '',
  CONSTRAINT fk_track_album FOREIGN KEY (album_id) REFERENCES album (album_id),
  CONSTRAINT fk_track_media FOREIGN KEY (media_type_id) REFERENCES media_type (media_type_id),
  CONSTRAINT fk_track_genre FOREIGN KEY (genre_id) REFERENCES genre (genre_id),
  CONSTRAINT price_positive CHECK (unit_price > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE employee (
  employee_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  last_name VARCHAR(20) NOT NULL,
  first_name VARCHAR(20) NOT NULL,
  title VARCHAR(30),
  reports_to TINYINT UNSIGNED,
  direct_reports TINYINT UNSIGNED NOT NULL DEFAULT 0,
  birth_date DATETIME,
  hire_date DATETIME,
  address VARCHAR(70),
  city VARCHAR(40),
  country CHAR(2),
  zip CHAR(5),
  phone VARCHAR(12),
  email VARCHAR(60),
  username VARCHAR(16) NOT NULL,
  CONSTRAINT fk_employee_reports_to FOREIGN KEY (reports_to) REFERENCES employee (employee_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE customer (
  customer_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  first_name VARCHAR(40) NOT NULL,
  last_name VARCHAR(20) NOT NULL,
  company VARCHAR(80),
  address VARCHAR(70),
  city VARCHAR(40),
  country CHAR(2),
  postal_code VARCHAR(10),
  phone VARCHAR(16),
  email VARCHAR(60) NOT NULL,
  support_rep_id TINYINT UNSIGNED,
  status ENUM('active', 'suspended', 'closed') NOT NULL DEFAULT 'active',
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  notes TEXT,
  preferences JSON,
  UNIQUE KEY uq_customer_phone (phone),
  full_name VARCHAR(61) AS (CONCAT(first_name, ' ', last_name)) VIRTUAL,
  UNIQUE KEY uq_customer_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE invoice (
  invoice_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id SMALLINT UNSIGNED NOT NULL,
  invoice_date DATETIME NOT NULL,
  billing_address VARCHAR(70),
  billing_city VARCHAR(40),
  billing_country_id TINYINT UNSIGNED,
  billing_postal_code VARCHAR(10),
  total DECIMAL(10,2) NOT NULL,
  billing_geo POINT,
  CONSTRAINT fk_invoice_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id),
  CONSTRAINT fk_invoice_country FOREIGN KEY (billing_country_id) REFERENCES country (country_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE invoice_line (
  invoice_line_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  invoice_id INT UNSIGNED NOT NULL,
  track_id SMALLINT UNSIGNED NOT NULL,
  unit_price DECIMAL(4,2) NOT NULL,
  quantity TINYINT UNSIGNED NOT NULL,
  line_total DECIMAL(6,2) AS (unit_price * quantity) STORED,
  CONSTRAINT fk_line_invoice FOREIGN KEY (invoice_id) REFERENCES invoice (invoice_id),
  CONSTRAINT fk_line_track FOREIGN KEY (track_id) REFERENCES track (track_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE listening_log (
  customer_id SMALLINT UNSIGNED NOT NULL,
  track_id SMALLINT UNSIGNED NOT NULL,
  played_at DATETIME(3) NOT NULL,
  client_ip VARCHAR(45),
  KEY ix_log_customer (customer_id, played_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE playlist (
  playlist_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(120) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE playlist_track (
  playlist_id SMALLINT UNSIGNED NOT NULL,
  track_id SMALLINT UNSIGNED NOT NULL,
  position SMALLINT UNSIGNED NOT NULL,
  PRIMARY KEY (playlist_id, track_id),
  CONSTRAINT fk_pt_playlist FOREIGN KEY (playlist_id) REFERENCES playlist (playlist_id),
  CONSTRAINT fk_pt_track FOREIGN KEY (track_id) REFERENCES track (track_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE VIEW customer_invoice_total AS
  SELECT c.customer_id, c.email, SUM(i.total) AS spent
  FROM customer c JOIN invoice i ON i.customer_id = c.customer_id GROUP BY c.customer_id, c.email;

DELIMITER ;;
CREATE TRIGGER invoice_total_nonneg BEFORE UPDATE ON invoice FOR EACH ROW
BEGIN
  IF NEW.total < 0 THEN SET NEW.total = 0; END IF;
END;;
DELIMITER ;
"""

GENRES = ["Rock", "Jazz", "Metal", "Alternative & Punk", "Rock And Roll", "Blues", "Latin", "Reggae", "Pop",
          "Soundtrack", "Bossa Nova", "Easy Listening", "Heavy Metal", "R&B/Soul", "Electronica/Dance", "World",
          "Hip Hop/Rap", "Science Fiction", "TV Shows", "Classical", "Chanson", "J-Pop", "Schlager", "Dechovka"]
MEDIA = ["MPEG audio file", "Protected AAC audio file", "Protected MPEG-4 video file", "Purchased AAC audio file",
         "AAC audio file"]
TITLES = ["Les Feuilles mortes", "Ода к радости", "夜に駆ける", "Na Sněžce", "Sommernacht", "Rêverie", "Blue in Green",
          "Kaze ni Naru", "Morgenrot", "Modlitba pro Martu", "La Mer", "Über den Wolken", "Sakura", "Dancing Queen",
          "Ne me quitte pas", "Zítra se bude tančit všude", "Ue o Muite Arukō", "99 Luftballons"]
TAGS = ["live", "remaster", "explicit", "instrumental"]
TITLES_EMOJI = ["🎸 Live", "🎹 Acoustic", "(Remastered)", "— Radio Edit", "🎶", "[Demo]"]
N_ARTISTS, N_ALBUMS, N_TRACKS, N_EMPLOYEES, N_CUSTOMERS = 275, 347, 3500, 12, 900
N_INVOICES, N_PLAYLISTS, N_COUNTRIES = 4100, 18, 200
ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def data() -> dict[str, tuple[list[str], list[tuple]]]:
    rng = np.random.default_rng(SEED)
    people = People(SEED)
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    naive = lambda d: d.replace(tzinfo=None)  # noqa: E731 - DATETIME has no zone
    genres = [(i, g) for i, g in enumerate(GENRES, 1)]
    media = [(i, m) for i, m in enumerate(MEDIA, 1)]
    artists = []
    for aid in range(1, N_ARTISTS + 1):
        p = people.person()
        artists.append((aid, f"{p.first_name} {p.last_name}" if rng.random() < 0.6 else
                        f"{TITLES[int(rng.integers(0, len(TITLES)))].split()[0]} Ensemble {aid}"))
    albums = []
    for i in range(1, N_ALBUMS + 1):  # a deluxe edition or a remaster points at its original album
        parent = int(rng.integers(1, i)) if i > 20 and rng.random() < 0.12 else None
        albums.append((i, f"{TITLES[int(rng.integers(0, len(TITLES)))]} {TITLES_EMOJI[int(rng.integers(0, 6))]}"[:160],
                       int(rng.integers(1, N_ARTISTS + 1)), int(rng.integers(1960, 2025)), parent))
    tracks = []
    for tid in range(1, N_TRACKS + 1):
        ms = int(rng.integers(60_000, 600_000))
        tracks.append((tid, f"{TITLES[int(rng.integers(0, len(TITLES)))]} ({tid})", int(rng.integers(1, N_ALBUMS + 1)),
                       int(rng.integers(1, len(MEDIA) + 1)),
                       None if rng.random() < 0.02 else int(rng.integers(1, len(GENRES) + 1)),
                       None if rng.random() < 0.3 else int(rng.integers(1, N_ARTISTS + 1)),
                       ms, ms * 33, money(rng, 0.99, 1.99),
                       ",".join(t for t in TAGS if rng.random() < 0.15)))
    employees = []
    titles = ["General Manager", "Sales Manager", "IT Manager", "Sales Support Agent", "IT Staff"]
    for eid in range(1, N_EMPLOYEES + 1):
        p = people.person(("de_DE", "fr_FR")[eid % 2])
        reports = None if eid == 1 else 1 if eid <= 3 else 2 + eid % 2
        born = naive(datetime(p.birth_date.year, p.birth_date.month, p.birth_date.day, tzinfo=UTC))
        title = titles[eid - 1] if eid <= 3 else titles[3 + eid % 2]
        direct = {1: 2, 2: 5, 3: 4}.get(eid, 0)  # who reports to whom: see reports below
        employees.append((eid, p.last_name[:20], p.first_name[:20], title,
                          reports, direct, born, naive(moment(rng, t0, 900)), p.street[:70], p.city[:40],
                          COUNTRY[p.locale], p.zip5, p.phone, p.email, p.email.split("@")[0][:16]))
    reps = list(range(4, N_EMPLOYEES + 1))  # sales support agents and IT staff
    customers = []
    for cid in range(1, N_CUSTOMERS + 1):
        p = people.person()
        customers.append((cid, p.first_name[:40], p.last_name[:20],
                          None if rng.random() < 0.8 else f"{p.last_name} GmbH"[:80], p.street[:70], p.city[:40],
                          COUNTRY[p.locale], p.postcode, p.phone if rng.random() < 0.9 else None, p.email,
                          None if rng.random() < 0.1 else reps[int(rng.integers(0, len(reps)))],
                          str(rng.choice(["active", "suspended", "closed"], p=[0.9, 0.05, 0.05])),
                          naive(moment(rng, t0, 1500)), (note(rng, p) + " 🎧") if rng.random() < 0.5 else None,
                          None if rng.random() < 0.3 else json.dumps(
                              {"lang": p.locale[:2], "newsletter": bool(rng.random() < 0.4),
                               "favourite_genres": sorted({int(g) for g in rng.integers(1, len(GENRES) + 1, 3)}),
                               "invoice_email": p.email}, ensure_ascii=False)))
    pool = sorted({a + b for a, b in zip(rng.choice(list(ALPHA), 400), rng.choice(list(ALPHA), 400), strict=True)}
                  - set(COUNTRY.values()))
    codes = sorted(set(COUNTRY.values()) | set(pool[:N_COUNTRIES - len(COUNTRY)]))
    countries = [(i, code, f"Land {code}") for i, code in enumerate(codes, 1)]
    country_id = {code: i for i, code, _ in countries}
    invoices, lines = [], []
    for iid in range(1, N_INVOICES + 1):
        c = customers[int(rng.integers(0, N_CUSTOMERS))]
        n = int(rng.integers(1, 6))
        items = [(int(rng.integers(1, N_TRACKS + 1)), money(rng, 0.99, 1.99), int(rng.integers(1, 3)))
                 for _ in range(n)]
        total = sum(price * q for _, price, q in items)
        lat, lon = rng.uniform(35, 55), rng.uniform(-5, 140)
        geo = SqlExpr(f"ST_GeomFromText('POINT({lon:.5f} {lat:.5f})')") if rng.random() < 0.7 else None
        invoices.append((iid, c[0], naive(moment(rng, t0, 1700)), c[4], c[5], country_id[c[6]], c[7], total, geo))
        for track, price, q in items:
            lines.append((len(lines) + 1, iid, track, price, q))
    log = []
    for _ in range(6000):  # no primary key, no foreign key: an append-only log
        at = moment(rng, t0, 1700).replace(tzinfo=None, microsecond=int(rng.integers(0, 1000)) * 1000)
        ip = f"{int(rng.integers(1, 224))}.{int(rng.integers(0, 256))}.{int(rng.integers(0, 256))}." \
             f"{int(rng.integers(1, 255))}" if rng.random() < 0.8 else f"2001:db8::{int(rng.integers(1, 65535)):x}"
        log.append((int(rng.integers(1, N_CUSTOMERS + 1)), int(rng.integers(1, N_TRACKS + 1)), at, ip))
    playlists = [(i, name) for i, name in enumerate(["Music", "Movies", "TV Shows", "Audiobooks", "90’s Music",
                                                     "Klassik", "Chansons françaises", "Česká klasika", "J-Pop 🇯🇵",
                                                     "Workout 💪", "Grunge", "Brazilian Music", "Heavy Metal",
                                                     "On-The-Go 1", "Piano", "Schlager", "Jazz", "Lo-fi ☕"], 1)]
    pairs = sorted({(int(rng.integers(1, N_PLAYLISTS + 1)), int(rng.integers(1, N_TRACKS + 1))) for _ in range(3000)})
    playlist_track = [(p, t, i + 1) for i, (p, t) in enumerate(pairs)]
    return {
        "genre": (["genre_id", "name"], genres),
        "media_type": (["media_type_id", "name"], media),
        "country": (["country_id", "iso_code", "name"], countries),
        "artist": (["artist_id", "name"], artists),
        "album": (["album_id", "title", "artist_id", "released", "parent_album_id"], albums),
        "track": (["track_id", "name", "album_id", "media_type_id", "genre_id", "composer_artist_id", "milliseconds",
                   "bytes", "unit_price", "tags"], tracks),
        "employee": (["employee_id", "last_name", "first_name", "title", "reports_to", "direct_reports",
                      "birth_date", "hire_date",
                      "address", "city", "country", "zip", "phone", "email", "username"], employees),
        "customer": (["customer_id", "first_name", "last_name", "company", "address", "city", "country",
                      "postal_code", "phone", "email", "support_rep_id", "status", "created_at", "notes",
                      "preferences"], customers),
        "invoice": (["invoice_id", "customer_id", "invoice_date", "billing_address", "billing_city",
                     "billing_country_id", "billing_postal_code", "total", "billing_geo"], invoices),
        "invoice_line": (["invoice_line_id", "invoice_id", "track_id", "unit_price", "quantity"], lines),
        "listening_log": (["customer_id", "track_id", "played_at", "client_ip"], log),
        "playlist": (["playlist_id", "name"], playlists),
        "playlist_track": (["playlist_id", "track_id", "position"], playlist_track),
    }


RELATIONS = [
    Relation("album", ("artist_id",), "artist", ("artist_id",), True),
    Relation("album", ("parent_album_id",), "album", ("album_id",), False),
    Relation("track", ("album_id",), "album", ("album_id",), True),
    Relation("track", ("media_type_id",), "media_type", ("media_type_id",), True),
    Relation("track", ("genre_id",), "genre", ("genre_id",), True),
    Relation("track", ("composer_artist_id",), "artist", ("artist_id",), False),
    Relation("employee", ("reports_to",), "employee", ("employee_id",), True),
    Relation("customer", ("support_rep_id",), "employee", ("employee_id",), False),
    Relation("invoice", ("customer_id",), "customer", ("customer_id",), True),
    Relation("invoice", ("billing_country_id",), "country", ("country_id",), True),
    Relation("invoice_line", ("invoice_id",), "invoice", ("invoice_id",), True),
    Relation("invoice_line", ("track_id",), "track", ("track_id",), True),
    Relation("listening_log", ("customer_id",), "customer", ("customer_id",), False),
    Relation("listening_log", ("track_id",), "track", ("track_id",), False),
    Relation("playlist_track", ("playlist_id",), "playlist", ("playlist_id",), True),
    Relation("playlist_track", ("track_id",), "track", ("track_id",), True),
]

INSERTS = {
    "genre": "INSERT INTO genre (name) VALUES ('Krautrock')",
    "media_type": "INSERT INTO media_type (name) VALUES ('FLAC audio file')",
    "artist": "INSERT INTO artist (name) VALUES ('Kraftwerk 🎛')",
    "album": "INSERT INTO album (title, artist_id, released) SELECT 'Autobahn', MAX(artist_id), 1974 FROM artist",
    "track": "INSERT INTO track (name, album_id, media_type_id, genre_id, milliseconds, unit_price) "
             "SELECT 'Kometenmelodie', MAX(album_id), (SELECT MIN(media_type_id) FROM media_type), "
             "(SELECT MAX(genre_id) FROM genre), 381000, 0.99 FROM album",
    "employee": "INSERT INTO employee (last_name, first_name, title, reports_to, email, username) SELECT 'Dvořák', "
                "'Antonín', 'Sales Support Agent', e.employee_id, 'antonin@new-hire.example', 'advorak' "
                "FROM (SELECT MIN(employee_id) AS employee_id FROM employee) e",
    "customer": "INSERT INTO customer (first_name, last_name, email, support_rep_id, notes) "
                "SELECT 'Aiko', '佐藤', 'aiko@new-customer.example', MAX(employee_id), 'よろしく 🎵' FROM employee",
    "invoice": "INSERT INTO invoice (customer_id, invoice_date, total) SELECT MAX(customer_id), NOW(), 1.98 "
               "FROM customer",
    "invoice_line": "INSERT INTO invoice_line (invoice_id, track_id, unit_price, quantity) "
                    "SELECT MAX(invoice_id), (SELECT MAX(track_id) FROM track), 0.99, 2 FROM invoice",
    "playlist": "INSERT INTO playlist (name) VALUES ('Neu 2025')",
    "country": "INSERT INTO country (iso_code, name) VALUES ('!!', 'Neuland')",
}

SENSITIVE = [
    Sensitive("employee", ("email",)),
    Sensitive("employee", ("phone",)),
    Sensitive("employee", ("first_name", "last_name")),
    Sensitive("employee", ("address",)),
    Sensitive("employee", ("username",)),
    Sensitive("customer", ("email",)),
    Sensitive("customer", ("phone",)),
    Sensitive("customer", ("first_name", "last_name")),
    Sensitive("customer", ("address",)),
    Sensitive("customer", ("notes",)),
    Sensitive("customer", ("preferences",)),  # JSON (LONGTEXT + json_valid CHECK) holding an email
    Sensitive("invoice", ("billing_address",)),
    Sensitive("listening_log", ("client_ip",)),
]


def schema() -> RealSchema:
    return RealSchema("music_my", "mysql", DDL, data, RELATIONS, INSERTS, SENSITIVE,
                      notes=[("customer", "notes", "customer.email"), ("customer", "notes", "customer.phone"),
                             ("customer", "preferences", "customer.email")],
                      generated=("invoice_line.line_total", "customer.full_name"))

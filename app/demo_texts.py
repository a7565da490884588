"""The words of the demo data: names, comments by NPS class, call notes, dismiss reasons (app/demo.py); and its
size, here because the CLI reads it without importing the demo's machinery."""

DEMO_CUSTOMERS, DEMO_SEED = 3000, 1  # what `flask demo seed` (and so `make run`) makes

FIRST = [
    "Anna",
    "Lukas",
    "Mia",
    "Leon",
    "Emma",
    "Finn",
    "Hannah",
    "Paul",
    "Lea",
    "Jonas",
    "Sofia",
    "Felix",
    "Marie",
    "Noah",
    "Laura",
    "Elias",
    "Julia",
    "Ben",
    "Sarah",
    "Tim",
    "Olivia",
    "James",
    "Grace",
    "Tom",
]
LAST = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Braun",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
]
# category: (typical order value, margin share, share of orders with a delivery problem)
COMMENTS = {
    "de": {
        "detractor": [
            "Lieferung kam eine Woche zu spät.",
            "Zu teuer für die Qualität.",
            "Niemand hat auf meine Mail geantwortet.",
            "Artikel war beschädigt.",
            "Rücksendung war kompliziert.",
        ],
        "passive": ["Ganz okay, aber die Lieferung dauerte.", "Preis in Ordnung.", ""],
        "promoter": ["Schnelle Lieferung, super Service!", "Tolle Beratung am Telefon.", "Immer wieder gern.", ""],
    },
    "en": {
        "detractor": [
            "Delivery was a week late.",
            "Too expensive for the quality.",
            "Nobody answered my email.",
            "The item arrived damaged.",
        ],
        "passive": ["Fine, but delivery took a while.", "Price is okay.", ""],
        "promoter": ["Fast delivery, great service!", "Very helpful support.", ""],
    },
}

DISMISS_REASONS = (
    "Kunde hat bereits ein Angebot erhalten.",
    "Ansprechpartner im Urlaub, nächstes Quartal erneut prüfen.",
    "Customer asked not to be contacted by phone.",
)

DEMO_CALL_NOTES = (
    "Angerufen, Kunde schildert Lieferverzug; Gutschein angeboten.",
    "Kunde erreicht, Ersatzlieferung veranlasst.",
    "Rückruf vereinbart, Preisfrage an Vertrieb weitergegeben.",
    "Called the customer, refund for the damaged item agreed.",
)

"""The texts a new CSAT or effort (CES) survey starts with, in German and English; admins edit them on /surveys.

A new NPS survey copies the first NPS survey's texts instead (the company's own wording). The scale's points each
have a label (`label_1` ... `label_5` or `label_7`): the page and the mail show them as text, not numbers alone.
"""

from __future__ import annotations

_MAIL = {
    "de": {
        "greeting": "Guten Tag",
        "reminder_subject": "Erinnerung: Eine Frage zu Ihrem Anliegen – ein Klick",
        "reminder_intro": "vor einigen Tagen haben wir Sie um eine kurze Rückmeldung gebeten. Sie hilft uns sehr.",
        "comment_label": "Möchten Sie uns noch etwas sagen?",
        "thanks": "Vielen Dank für Ihre Antwort!",
    },
    "en": {
        "greeting": "Hello",
        "reminder_subject": "Reminder: one question about your request – one click",
        "reminder_intro": "a few days ago we asked for a short rating. It helps us a lot.",
        "comment_label": "Is there anything else you would like to tell us?",
        "thanks": "Thank you for your answer!",
    },
}

DEFAULT_TEXTS = {
    "csat": {
        "de": {
            **_MAIL["de"],
            "subject": "Wie zufrieden waren Sie? Eine Frage, ein Klick",
            "intro": "wir haben Ihr Anliegen abgeschlossen und möchten wissen, wie es für Sie war.",
            "question": "Wie zufrieden waren Sie mit der Bearbeitung Ihres Anliegens?",
            "label_1": "sehr unzufrieden",
            "label_2": "unzufrieden",
            "label_3": "weder noch",
            "label_4": "zufrieden",
            "label_5": "sehr zufrieden",
        },
        "en": {
            **_MAIL["en"],
            "subject": "How satisfied were you? One question, one click",
            "intro": "we have closed your request and would like to know how it went for you.",
            "question": "How satisfied were you with how we handled your request?",
            "label_1": "very dissatisfied",
            "label_2": "dissatisfied",
            "label_3": "neither",
            "label_4": "satisfied",
            "label_5": "very satisfied",
        },
    },
    "ces": {
        "de": {
            **_MAIL["de"],
            "subject": "War es einfach für Sie? Eine Frage, ein Klick",
            "intro": "wir haben Ihr Anliegen abgeschlossen und möchten wissen, wie einfach es für Sie war.",
            "question": "Wie sehr stimmen Sie zu: Es war einfach für mich, mein Anliegen zu erledigen.",
            "label_1": "stimme überhaupt nicht zu",
            "label_2": "stimme nicht zu",
            "label_3": "stimme eher nicht zu",
            "label_4": "teils, teils",
            "label_5": "stimme eher zu",
            "label_6": "stimme zu",
            "label_7": "stimme voll und ganz zu",
        },
        "en": {
            **_MAIL["en"],
            "subject": "Was it easy for you? One question, one click",
            "intro": "we have closed your request and would like to know how easy it was for you.",
            "question": "How much do you agree: the company made it easy for me to handle my request.",
            "label_1": "strongly disagree",
            "label_2": "disagree",
            "label_3": "somewhat disagree",
            "label_4": "neither agree nor disagree",
            "label_5": "somewhat agree",
            "label_6": "agree",
            "label_7": "strongly agree",
        },
    },
}

"""Surveys: definitions, invitations, answers, and the outbox that mails them."""

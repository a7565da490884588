"""Integrations: signed webhooks to a company's own tools and the built-in detractor alert by email.

It sits at the top of the dependency chain: it listens to the signals of customers, surveys and feedback
and reads their tables; nothing imports it.
"""

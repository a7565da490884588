"""Customers and their purchases: the data every survey starts from."""

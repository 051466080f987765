"""The one exception the ledger raises for a request it refuses."""


class LedgerError(Exception):
    """A request the ledger refuses; the message is for the user, in Chinese and English."""

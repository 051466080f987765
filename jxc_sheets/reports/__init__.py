"""The outbox reports."""

"""The ledger: schema, posting, costing and queries (SQLAlchemy Core)."""

"""The store: the only package that knows the schema. Models, migrations and queries."""

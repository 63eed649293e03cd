"""The configuration database: table models, engine, migrations and repositories."""

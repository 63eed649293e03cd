"""Email accounts as administrators configure them: rules, changes, audit, export/import."""

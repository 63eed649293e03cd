"""Code that the scheduler, the workers and the CLI all stand on: models, settings, clients."""

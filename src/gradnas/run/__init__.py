"""Running experiments: where proxy scores are stored so runs can resume and run in parallel."""

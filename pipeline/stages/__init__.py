"""One module per DVC stage, named after the stage (``dvc.yaml``'s ``cmd`` runs it with
``python -m pipeline.stages.<stage>``)."""

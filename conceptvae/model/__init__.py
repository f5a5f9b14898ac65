"""Model: the Keras network (training, export) and the backend-neutral loaded model."""

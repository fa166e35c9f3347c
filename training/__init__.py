"""FashionStudio trainer: datasets, the four GAN trainers, metrics, and the run-folder CLI (python -m training)."""

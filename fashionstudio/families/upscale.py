"""Upscale: the clean-and-upscale autoencoder behind every tool's Sharpen x4 (evaluated against Lanczos by
training.metrics.upscale_eval, not by a sampling spec)."""

from fashionstudio.families import Family

FAMILY = Family(
    name="upscale", tool="upscale", label="Sharpen x4, every tool's helper (Upscale)", paper="Upscale", default=True,
    build="fashionstudio.models.upscaler:build", trainer="training.trainers.upscale:UpscaleTrainer",
    data_kinds=("images", "inshop", "lookbook", "shoes_bags"),
)

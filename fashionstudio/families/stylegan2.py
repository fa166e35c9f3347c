"""StyleGAN2 (Karras et al. 2020): new images from latent codes, the Generate family."""

from fashionstudio.families import Family

FAMILY = Family(
    name="stylegan2", tool="generate", label="New images (StyleGAN2)", paper="StyleGAN2", default=True,
    build="fashionstudio.models.stylegan2:build", trainer="training.trainers.stylegan2:StyleGAN2Trainer",
    evaluation="training.metrics.generate_eval:STYLEGAN2",
    data_kinds=("images", "fisb"), atelier_kind="images",
    roles=(("image", "image"),),
)

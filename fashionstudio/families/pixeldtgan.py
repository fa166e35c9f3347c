"""PixelDTGAN (Yoo et al. 2016): pixel-level domain transfer from a worn garment to its product shot."""

from fashionstudio.families import Family

FAMILY = Family(
    name="pixeldtgan", tool="extract", label="Garment extraction (PixelDTGAN)", paper="PixelDTGAN", default=False,
    build="fashionstudio.models.pixeldtgan:build", trainer="training.trainers.pixeldtgan:PixelDTGANTrainer",
    evaluation="training.metrics.extract_eval:PIXELDTGAN",
    data_kinds=("lookbook",), atelier_kind="lookbook",
    roles=(("person", "person"),),
)

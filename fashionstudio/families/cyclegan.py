"""CycleGAN (Zhu et al. 2017): unpaired shoes <-> handbags translation, the thesis's Match family."""

from fashionstudio.families import Family

FAMILY = Family(
    name="cyclegan", tool="match", label="Shoes \u2194 handbags (CycleGAN)", paper="CycleGAN",
    build="fashionstudio.models.cyclegan:build", trainer="training.trainers.cyclegan:CycleGANTrainer",
    evaluation="training.metrics.match_eval:CYCLEGAN",
    data_kinds=("shoes_bags",), atelier_kind="shoes_bags",
    roles=(("shoe", "A"), ("bag", "B")), pipeline="fashionstudio.core.match:StyleMatcher",
)

"""MUNIT (Huang et al. 2018): shoes <-> handbags through shared content and per-domain style codes."""

from fashionstudio.families import Family

FAMILY = Family(
    name="munit", tool="match", label="Shoes \u2194 handbags, content/style (MUNIT)", paper="MUNIT", default=True,
    build="fashionstudio.models.munit:build", trainer="training.trainers.munit:MunitTrainer",
    evaluation="training.metrics.match_eval:MUNIT",
    data_kinds=("shoes_bags",), atelier_kind="shoes_bags",
    roles=(("shoe", "A"), ("bag", "B")), pipeline="fashionstudio.core.content_style_match:ContentStyleMatcher",
)
